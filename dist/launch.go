package dist

import (
	"fmt"
	"os"
	"strconv"
)

// Launch is what a parallel launcher told this process through its
// environment.
type Launch struct {
	// Launcher names the launcher: "mpirun" (Open MPI's, which sets
	// OMPI_COMM_WORLD_*), "PMI" (MPICH or Intel MPI mpiexec: PMI_RANK,
	// PMI_SIZE), "srun" (Slurm job step:
	// SLURM_PROCID, SLURM_STEP_NUM_TASKS) or "PMIx" (PMIX_RANK alone). It is
	// "" when no launcher started the process.
	Launcher string
	// Rank is this process's rank.
	Rank int
	// Size is the number of processes the launcher started, 0 when it does
	// not say (PMIx outside Slurm).
	Size int
	// From names the environment variables read, for messages.
	From string
}

// Launched reports whether a launcher started the process.
func (l Launch) Launched() bool { return l.Launcher != "" }

// Multi reports whether the launcher started more than one process.
func (l Launch) Multi() bool { return l.Size > 1 || l.Rank > 0 }

// launchVars are the environment variables that tell rank and size, by
// launcher, most specific first. A Slurm batch script has SLURM_PROCID and
// SLURM_NTASKS but not SLURM_STEP_NUM_TASKS, which only srun sets for the
// tasks of a job step, so a program run from the script is not mistaken for
// one of several tasks.
var launchVars = []struct{ launcher, rank, size string }{
	{"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
	{"PMI", "PMI_RANK", "PMI_SIZE"},
	{"srun", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS"},
	{"PMIx", "PMIX_RANK", ""},
}

// DetectLaunch reads the launcher's environment through getenv (os.Getenv,
// or a map's lookup in tests). A variable that is set but malformed is an
// error naming it.
func DetectLaunch(getenv func(string) string) (Launch, error) {
	for _, v := range launchVars {
		rs := getenv(v.rank)
		if rs == "" {
			continue
		}
		if v.size != "" && getenv(v.size) == "" {
			continue // srun without a job step, or an unrelated PMI_RANK
		}
		l := Launch{Launcher: v.launcher, From: v.rank}
		var err error
		if l.Rank, err = envInt(v.rank, rs, 0); err != nil {
			return Launch{}, err
		}
		if v.size != "" {
			l.From += ", " + v.size
			if l.Size, err = envInt(v.size, getenv(v.size), 1); err != nil {
				return Launch{}, err
			}
			if l.Rank >= l.Size {
				return Launch{}, fmt.Errorf("dist: environment: %s=%d is not below %s=%d",
					v.rank, l.Rank, v.size, l.Size)
			}
		}
		return l, nil
	}
	return Launch{}, nil
}

// envInt parses an environment variable's integer value, at least min.
func envInt(name, s string, min int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		return 0, fmt.Errorf("dist: environment: %s=%q is not an integer ≥ %d", name, s, min)
	}
	return n, nil
}

// BuildCommand is how to build bsnnctl with MPI support.
const BuildCommand = "go build -tags mpi ./cli/bsnnctl"

// LaunchError is CheckLauncher's error: a build without MPI support was
// started by a launcher as one of several processes, which would otherwise
// each train alone.
type LaunchError struct {
	Launch Launch
}

func (e *LaunchError) Error() string {
	of := "of several"
	if e.Launch.Size > 0 {
		of = "of " + strconv.Itoa(e.Launch.Size)
	}
	return fmt.Sprintf("started by %s as one %s processes (%s), but this program was built without MPI support; build it with the mpi tag: %s",
		e.Launch.Launcher, of, e.Launch.From, BuildCommand)
}

// CheckLauncher returns a *LaunchError when this build has no MPI support
// (no mpi build tag) and a launcher started it as one of several processes;
// nil otherwise, and always nil in builds with the mpi tag (Open then joins
// the job). A malformed launcher variable is an error too. Programs call it
// first thing, before any work.
func CheckLauncher() error {
	if MPIBuilt {
		return nil
	}
	l, err := DetectLaunch(os.Getenv)
	if err != nil {
		return err
	}
	if l.Multi() {
		return &LaunchError{Launch: l}
	}
	return nil
}
