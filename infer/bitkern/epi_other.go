//go:build !amd64 || purego

package bitkern

// epiSpikes runs the LIF epilogue (no assembly in this build).
func epiSpikes(a *epiArgs) { epiSpikesGo(a) }
