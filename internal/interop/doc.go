// Package interop runs models in external tools so that tests can check the
// files bsnnctl writes against the real consumers:
//
//   - onnxruntime, through the Go binding github.com/yalue/onnxruntime_go on the
//     CPU library libonnxruntime.so.1 shipped in npm onnxruntime-node@1.30.0
//     (InitORT, RunORT, ModelIO);
//   - Debian's Python onnx 1.12 checker (CheckModel, PythonONNXAvailable);
//   - Debian's Python h5py and the HDF5 tools' h5dump, for the hdf5 package
//     (PythonH5pyAvailable, H5dumpAvailable, RunH5dump);
//   - Python scripts with numpy, for cross-checks against a numpy reference
//     (RunPython, PythonNumpyAvailable);
//   - Open MPI's mpirun, for package dist's builds with the mpi tag
//     (MPIAvailable, MPIRun, MPICommand, GoBuild);
//   - Debian's PyTorch, the reference of `bsnnctl bench` (TorchAvailable).
//
// No tool is needed to build or test the rest of the project. A test asks
// for a tool with Need (or NeedORT, NeedPythonONNX, NeedPythonNumpy,
// NeedH5py, NeedH5dump, NeedMPI, NeedTorch): when the tool is missing the
// test is skipped, unless BSNNCTL_INTEROP=1 is set (as scripts/test.sh and
// .ci/run do), in which case it fails.
//
// # Finding onnxruntime
//
// The shared library is taken from BSNNCTL_ORT_LIB, else from the cache folder
// that scripts/deps.sh installs into:
//
//	${BSNNCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bsnnctl}/ort/node_modules/
//	    onnxruntime-node/bin/napi-v6/linux/<x64|arm64>/libonnxruntime.so.1
//
// The library is loaded with dlopen at run time; nothing links against it.
//
// # cgo
//
// Apart from package dist in builds with the mpi tag, this is the only
// package of the module that uses cgo (through onnxruntime_go). Tests that use onnxruntime therefore need a C compiler (gcc)
// and CGO_ENABLED=1, which is Go's default when gcc is present. Built with
// CGO_ENABLED=0 the package still compiles: InitORT and RunORT then report
// onnxruntime as unavailable (ErrUnavailable). Only test code may import this
// package, so the bsnnctl binary stays pure Go.
package interop
