// A minimal device driver for the mm tests: buffer objects with a per-object mutex, living in
// one system page each, mapped through one device address_space. Its handlers follow Ben
// Herrenschmidt's 2006 recipe (nopage: lock, find the page, unlock, return it) and Nick
// Piggin's (nopfn / fault with vm_insert_pfn under the object lock).
import { address_space, type file } from "../../src/kernel/fs.js";
import type { Kernel } from "../../src/kernel/kernel.js";
import { lockClass } from "../../src/kernel/lockdep.js";
import { unmap_mapping_range, vm_insert_pfn } from "../../src/kernel/memory.js";
import {
  type NopageResult,
  type NopfnResult,
  VM_FAULT_NOPAGE,
  VM_PFNMAP,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
  type vm_operations_struct,
} from "../../src/kernel/mm_types.js";
import { mutex, mutex_lock, mutex_unlock } from "../../src/kernel/mutex.js";
import { alloc_page, get_page, put_page } from "../../src/kernel/page_alloc.js";
import type { StructPage } from "../../src/kernel/physmem.js";
import type { Gen } from "../../src/kernel/sched.js";

export class FakeObject {
  readonly lock: mutex;
  page: StructPage;
  nopageCalls = 0;

  constructor(
    readonly k: Kernel,
    readonly name: string,
    /** Offset of the object in the device file, in pages. */
    readonly pgoff: number,
  ) {
    this.lock = new mutex(k, `${name}.lock`, lockClass("fake_object_lock"));
    this.page = alloc_page(k, { name, index: 0 }, "fake_create")!;
  }
}

export type FaultStyle = "nopage" | "nopfn" | "insert-pfn";

export class FakeDevice {
  readonly mapping: address_space;
  readonly filp: file;
  readonly objects: FakeObject[] = [];

  constructor(
    readonly k: Kernel,
    readonly style: FaultStyle,
  ) {
    this.mapping = new address_space(k, "fakedev");
    const vmOps = this.vmOps();
    this.filp = {
      name: "/dev/fake",
      f_mapping: this.mapping,
      private_data: null,
      f_op: {
        mmap: function* (_filp, vma: vm_area_struct): Gen<number> {
          vma.vm_ops = vmOps;
          if (style !== "nopage") vma.vm_flags |= VM_PFNMAP;
          return 0;
        },
      },
    };
  }

  create(name: string): FakeObject {
    const obj = new FakeObject(this.k, name, this.objects.length);
    this.objects.push(obj);
    return obj;
  }

  objectAt(pgoff: number): FakeObject {
    return this.objects[pgoff]!;
  }

  /** Moves `obj` to a fresh page: lock, unmap every mapping, copy, free the old page, unlock. */
  *move(obj: FakeObject): Gen {
    const k = this.k;
    yield* mutex_lock(obj.lock, "fake_move");
    yield* unmap_mapping_range(this.mapping, obj.pgoff, 1, true);
    const fresh = alloc_page(k, { name: obj.name, index: 0 }, "fake_move")!;
    k.mem.copyPage(obj.page.frame, fresh.frame);
    const old = obj.page;
    k.mem.setOwner(old.frame, null, "fake_move");
    obj.page = fresh;
    put_page(k, old, "fake_move");
    yield* mutex_unlock(obj.lock, "fake_move_done");
  }

  private vmOps(): vm_operations_struct {
    const dev = this;
    const k = this.k;
    switch (this.style) {
      case "nopage":
        return {
          name: "fake_nopage",
          *nopage(vma, address): Gen<NopageResult> {
            const obj = dev.objectAt(vma.vm_pgoff + (address - vma.vm_start));
            yield* mutex_lock(obj.lock, "fake_nopage");
            obj.nopageCalls++;
            const page = obj.page;
            get_page(page, "fake_nopage");
            yield* mutex_unlock(obj.lock, "fake_nopage_unlock");
            // A scheduling point after the lock is dropped, where the tests stop the fault.
            yield { op: "yield", obj: k.current, site: "fake_nopage_done" };
            return { kind: "page", page };
          },
        };
      case "nopfn":
        return {
          name: "fake_nopfn",
          *nopfn(vma, address): Gen<NopfnResult> {
            const obj = dev.objectAt(vma.vm_pgoff + (address - vma.vm_start));
            yield* mutex_lock(obj.lock, "fake_nopfn");
            const pfn = obj.page.frame.pfn;
            yield* mutex_unlock(obj.lock, "fake_nopfn_unlock");
            return { kind: "pfn", pfn };
          },
        };
      case "insert-pfn":
        return {
          name: "fake_fault",
          *fault(vmf: vm_fault): Gen<vm_fault_t> {
            const obj = dev.objectAt(vmf.pgoff);
            yield* mutex_lock(obj.lock, "fake_fault");
            const ret = yield* vm_insert_pfn(vmf.vma, vmf.address, obj.page.frame.pfn);
            k.printk("fake_fault", `vm_insert_pfn -> ${ret}`);
            yield* mutex_unlock(obj.lock, "fake_fault_unlock");
            return VM_FAULT_NOPAGE;
          },
        };
    }
  }
}
