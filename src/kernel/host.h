/*
 * What the host kernel is like (host.c).
 */
#ifndef COW_KERNEL_HOST_H
#define COW_KERNEL_HOST_H

/* Does the host map the shared zero page on a read fault of anonymous
 * memory?  1 or 0; -1 when it cannot tell (the PFNs in
 * /proc/self/pagemap read as 0 without CAP_SYS_ADMIN). */
int kern_host_zero_page(void);

#endif /* COW_KERNEL_HOST_H */
