// Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h and
// include/linux/errno.h). Kernel functions return them negated, as the kernel does.

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EDEADLK = 35;
export const ETIME = 62;
export const EMULTIHOP = 72;
export const EALREADY = 114;
export const ERESTARTSYS = 512;

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EINTR]: "EINTR",
  [EIO]: "EIO",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENODEV]: "ENODEV",
  [EINVAL]: "EINVAL",
  [ENOSPC]: "ENOSPC",
  [EDEADLK]: "EDEADLK",
  [ETIME]: "ETIME",
  [EMULTIHOP]: "EMULTIHOP",
  [EALREADY]: "EALREADY",
  [ERESTARTSYS]: "ERESTARTSYS",
};

/** "0" for success, "-ENOSPC" for -28, and the bare number for anything unknown. */
export function errnoName(ret: number): string {
  if (ret >= 0) return String(ret);
  const name = NAMES[-ret];
  return name === undefined ? String(ret) : `-${name}`;
}
