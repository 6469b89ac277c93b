//go:build amd64 && !purego

package bench

// addChainLoop runs n iterations of 8 dependent 64-bit additions
// (clock_amd64.s).
func addChainLoop(n int64)

// addChain runs a chain of dependent additions and returns its length in
// cycles (one per addition).
func addChain(n int64) int64 {
	addChainLoop(n)
	return 8 * n
}
