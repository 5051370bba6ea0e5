/*
 * What the host kernel is like (host.c).
 */
#ifndef COW_KERNEL_HOST_H
#define COW_KERNEL_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* Does the host map the shared zero page on a read fault of anonymous
 * memory?  1 or 0; -1 when it cannot tell (the PFNs in
 * /proc/self/pagemap read as 0 without CAP_SYS_ADMIN). */
int kern_host_zero_page(void);

/* Is a swap area active (/proc/swaps)? */
bool kern_swap_active(void);
/* Make sure swap is active for a run's swapout: when none is, and we are
 * root, create and enable a temporary swap file (4 MiB, in $COWLAB_TMPDIR,
 * else /var/tmp).  0, or 1 with the reason the run must skip in why. */
int kern_swap_on(char *why, size_t len);
/* Disable and remove the swap file kern_swap_on made, if any; safe in a
 * signal handler (swapoff and unlink only). */
void kern_swap_off(void);

#endif /* COW_KERNEL_HOST_H */
