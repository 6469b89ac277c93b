//go:build cgo && linux

package ort

/*
#include <stddef.h>
extern int malloc_trim(size_t) __attribute__((weak));
static void bsnnctl_trim(void) { if (malloc_trim) malloc_trim(0); }
*/
import "C"

// releaseFreeMemory hands the memory the C allocator holds free (what a
// closed session used) back to the system: glibc keeps it otherwise, and
// it would stay counted in the process's resident memory.
func releaseFreeMemory() { C.bsnnctl_trim() }
