package onnx

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on x86-64 and on arm64
// with 4 KiB pages; where the kernel's differs, the advice covers fewer
// or partial huge pages and only helps less.
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the huge-page-aligned interior of
// b, memory not yet written, with transparent huge pages (madvise
// MADV_HUGEPAGE; Linux's default THP mode, "madvise", uses them only where
// asked). Reading a network's weights into fresh memory otherwise faults
// in one 4 KiB page at a time, and on virtual machines a fault costs
// microseconds: `bsnnctl import --no-verify` of a ResNet-50 (102 MB) took
// 28 000 faults and more system time than user time, with the advice 16 000
// faults and 0.1 s less system time. The advice is a hint: it changes no
// data, and where the kernel declines (THP "never", no free huge page)
// nothing changes.
func adviseHugePages(b []byte) {
	if len(b) < hugePage {
		return
	}
	start := (hugePage - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%hugePage)) % hugePage
	n := (len(b) - start) &^ (hugePage - 1)
	if n <= 0 {
		return
	}
	_ = unix.Madvise(b[start:start+n], unix.MADV_HUGEPAGE)
}
