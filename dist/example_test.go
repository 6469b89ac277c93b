package dist_test

import (
	"errors"
	"fmt"
	"log"
	"math"

	"github.com/bsnnctl/bsnnctl/dist"
)

// One synchronous data-parallel step. Started directly, Open returns Local
// (one rank); under mpirun, with -tags mpi, every rank runs the same code on
// its slice of the global batch.
func Example() {
	c, err := dist.Open()
	if err != nil {
		log.Fatal(err) // e.g. a build without MPI started by mpirun -np 2
	}
	defer c.Close()

	const globalBatch = 4
	// This rank's gradient and loss, summed over its samples.
	grad := []float32{0.5, -1, 2}
	loss := []float64{1.25}

	// Stop every rank at the same step when one of them has a NaN.
	var bad error
	if math.IsNaN(loss[0]) {
		bad = errors.New("loss is NaN")
	}
	if err := dist.Agree(c, bad); err != nil {
		if !dist.Quiet(err) { // rank 0 reports for everyone
			log.Print(err)
		}
		return
	}
	// Sum over ranks in rank order, then scale: the same bits on every rank.
	if err := c.AllreduceSum32(grad); err != nil {
		log.Fatal(err)
	}
	if err := c.AllreduceSum64(loss); err != nil {
		log.Fatal(err)
	}
	for i := range grad {
		grad[i] /= globalBatch
	}
	if c.Rank() == 0 {
		fmt.Println(c.Size(), "rank(s): gradient", grad, "mean loss", loss[0]/globalBatch)
	}
	// Output: 1 rank(s): gradient [0.125 -0.25 0.5] mean loss 0.3125
}
