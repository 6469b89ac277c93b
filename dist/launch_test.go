package dist

import (
	"errors"
	"strings"
	"testing"
)

func TestDetectLaunch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Launch
		multi   bool
		wantErr string
	}{
		{name: "direct", env: nil},
		{name: "mpirun", env: map[string]string{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
			"PMIX_RANK": "1"},
			want:  Launch{Launcher: "mpirun", Rank: 1, Size: 2, From: "OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE"},
			multi: true},
		{name: "mpirun -np 1", env: map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1"},
			want: Launch{Launcher: "mpirun", Rank: 0, Size: 1, From: "OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE"}},
		{name: "mpiexec (MPICH)", env: map[string]string{"PMI_RANK": "0", "PMI_SIZE": "4"},
			want: Launch{Launcher: "PMI", Rank: 0, Size: 4, From: "PMI_RANK, PMI_SIZE"}, multi: true},
		{name: "srun --mpi=pmix", env: map[string]string{"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "8",
			"SLURM_NTASKS": "8", "PMIX_RANK": "0"},
			want: Launch{Launcher: "srun", Rank: 0, Size: 8, From: "SLURM_PROCID, SLURM_STEP_NUM_TASKS"}, multi: true},
		{name: "sbatch script", env: map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}},
		{name: "PMIx only", env: map[string]string{"PMIX_RANK": "3"},
			want: Launch{Launcher: "PMIx", Rank: 3, From: "PMIX_RANK"}, multi: true},
		{name: "PMIx rank 0", env: map[string]string{"PMIX_RANK": "0"},
			want: Launch{Launcher: "PMIx", Rank: 0, From: "PMIX_RANK"}},
		{name: "bad size", env: map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "two"},
			wantErr: `OMPI_COMM_WORLD_SIZE="two"`},
		{name: "rank beyond size", env: map[string]string{"PMI_RANK": "4", "PMI_SIZE": "4"},
			wantErr: "PMI_RANK=4 is not below PMI_SIZE=4"},
		{name: "negative rank", env: map[string]string{"PMIX_RANK": "-1"}, wantErr: `PMIX_RANK="-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectLaunch(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DetectLaunch error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || got.Multi() != tc.multi || got.Launched() != (tc.want.Launcher != "") {
				t.Errorf("DetectLaunch = %+v (multi %v), want %+v (multi %v)", got, got.Multi(), tc.want, tc.multi)
			}
		})
	}
}

func TestCheckLauncher(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_RANK", "0")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	err := CheckLauncher()
	if MPIBuilt {
		if err != nil {
			t.Fatalf("CheckLauncher in an mpi build = %v, want nil", err)
		}
		return
	}
	var le *LaunchError
	if !errors.As(err, &le) {
		t.Fatalf("CheckLauncher = %v, want a *LaunchError", err)
	}
	const want = "started by mpirun as one of 2 processes (OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE), " +
		"but this program was built without MPI support; build it with the mpi tag: go build -tags mpi ./cli/bsnnctl"
	if err.Error() != want {
		t.Errorf("CheckLauncher = %q\nwant %q", err, want)
	}
	if _, err := Open(); !errors.As(err, &le) {
		t.Errorf("Open = %v, want the *LaunchError", err)
	}

	t.Setenv("OMPI_COMM_WORLD_SIZE", "1")
	if err := CheckLauncher(); err != nil {
		t.Errorf("CheckLauncher under mpirun -np 1 = %v, want nil", err)
	}
}

func TestOpenAlone(t *testing.T) {
	for _, k := range []string{"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", "PMIX_RANK"} {
		t.Setenv(k, "") // DetectLaunch treats empty as unset
	}
	c, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(Local); !ok {
		t.Errorf("Open without a launcher = %T, want Local", c)
	}
}

func TestQuietLaunchError(t *testing.T) {
	for _, tc := range []struct {
		l     Launch
		quiet bool
	}{
		{Launch{Launcher: "mpirun", Rank: 0, Size: 2}, false},
		{Launch{Launcher: "mpirun", Rank: 1, Size: 2}, true},
		{Launch{Launcher: "PMIx", Rank: 1}, false}, // size unknown: rank 0 may not fail
	} {
		if got := Quiet(&LaunchError{Launch: tc.l}); got != tc.quiet {
			t.Errorf("Quiet(LaunchError %+v) = %v, want %v", tc.l, got, tc.quiet)
		}
	}
	if Quiet(errors.New("other")) {
		t.Error("Quiet(other error) = true")
	}
}
