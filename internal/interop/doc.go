// Package interop runs models in external tools so that tests can check the
// files bsnnctl writes against the real consumers:
//
//   - onnxruntime, through internal/ort (InitORT, RunORT, ModelIO);
//   - Debian's Python onnx 1.12: its checker (CheckModel) and strict shape
//     inference (InferShapesStrict); PythonONNXAvailable;
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
// The onnxruntime binding itself is package internal/ort (`bsnnctl import`
// uses it too); this package forwards to it and adds the test switch. Only
// test code imports this package (it uses package testing).
package interop
