//go:build !race

package spiking

const raceEnabled = false
