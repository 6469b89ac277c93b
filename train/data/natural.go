package data

import (
	"cmp"
	"path"
	"slices"
)

// naturalCompare orders names with their digit runs compared as numbers, so that
// "cifar10_cat_2" comes before "cifar10_cat_10"; equal names compare 0.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := trimZeros(a[si:i]), trimZeros(b[sj:j])
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if na != nb {
				return cmp.Compare(na, nb)
			}
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(int(a[i]), int(b[j]))
		}
		i++
		j++
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return cmp.Compare(a, b) // equal up to leading zeros: fall back to byte order
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// sortNatural sorts slash paths by their base names in natural order.
func sortNatural(files []string) {
	slices.SortStableFunc(files, func(a, b string) int { return naturalCompare(path.Base(a), path.Base(b)) })
}
