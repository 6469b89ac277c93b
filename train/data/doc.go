// Package data is bsnnctl's dataset layer: it reads image-classification and event-camera
// datasets into memory, turns images or event frames into a model's float32 input and
// serves shuffled, augmented mini-batches from background goroutines.
//
// # Datasets
//
// ParseSpec parses the --data SPEC forms of the command line (see SpecForms); Open reads
// one Split of it from the file system and OpenFS from any fs.FS (an embed.FS, for the
// quickstart's embedded Fashion-MNIST slice). A Dataset holds uint8 images [N, C, H, W]
// (RGB for colour), int labels, the class count and names, and the source file names.
//
//   - fashion-mnist[:DIR] (DIR defaults to FashionMNISTDir: $BSNNCTL_FASHION_MNIST, else Debian's folder) and mnist:DIR: IDX files
//     train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
//     t10k-labels-idx1-ubyte, each optionally gzipped (decided by the gzip magic, not the
//     name; a ".gz" suffix and the "train-images.idx3-ubyte" spelling are also found).
//     Checked: magic numbers (0x00000803 images, 0x00000801 labels), image size, equal
//     image and label counts, file length against the header (a truncated file names the
//     first missing record; trailing data is an error too), labels in [0, 10).
//   - cifar10:DIR: the CIFAR-10 binary version, data_batch_1.bin .. data_batch_5.bin (every
//     present batch, numbered without gaps) for training and test_batch.bin for test, in DIR
//     or DIR/cifar-10-batches-bin/; records are 1 label byte + 3072 pixel bytes (R, G, B
//     planes of 32x32). Class names from batches.meta.txt when present.
//   - cifar100:DIR: the CIFAR-100 binary version, train.bin / test.bin in DIR or
//     DIR/cifar-100-binary/; records are a coarse and a fine label byte + 3072 pixel bytes;
//     the fine label (100 classes) is used. Class names from fine_label_names.txt when
//     present.
//   - folder:DIR: PNG and JPEG images (.png, .jpg, .jpeg, any case; other files and hidden
//     entries are ignored), either DIR/train/<class>/* and DIR/test/<class>/*, or
//     DIR/<class>/* split deterministically: within each class, files sorted by name, every
//     FolderTestEvery-th file (positions 4, 9, 14, ...) is test, the rest training. Classes
//     are the sub-folders sorted by name (of DIR/train in the first layout, so a test split
//     has the same label numbering). All images must have one size; the dataset has one
//     channel if every image is greyscale, else three (grey images are replicated);
//     transparent pixels are composited over black.
//
// Malformed files give a *FormatError naming the file and, where it applies, the record.
//
// # Event datasets
//
// OpenEvents reads one split of an event-camera dataset and bins every sample into T
// frames [T, 2, H, W] of event counts (channel 0 OFF, channel 1 ON) held in an
// EventDataset (one or two bytes per count):
//
//   - nmnist:DIR: N-MNIST, DIR/Train/<digit>/*.bin and DIR/Test/<digit>/*.bin, 5-byte
//     records on a 34x34 sensor (DecodeNMNIST).
//   - dvsgesture:DIR: DVS128 Gesture, the AEDAT 3.1 recordings listed in
//     trials_to_train.txt / trials_to_test.txt (in DIR or DIR/DvsGesture), each cut into
//     its gestures by <recording>_labels.csv (DecodeAEDAT3); label rows whose range is not
//     inside the recording's events are kept or dropped and reported (LabelIssue).
//   - cifar10dvs:DIR: CIFAR10-DVS, DIR/<class>/*.aedat (AEDAT 2.0, DVS128 addresses,
//     DecodeCIFAR10DVS), split per class: the first tenth in natural name order is test.
//
// EventOptions choose T, the binning (BinByCount or BinByTime, see BinEvents) and an
// optional downsampling (FrameSize). The frames are cached on disk the first time
// (FrameCacheFolder in DIR, else the user cache folder; see CacheInfo), so later opens do
// not parse events. Malformed event files give an *EventFormatError naming the file and
// the byte offset. NewEventLoader serves frame-major batches [T, N, 2, H, W] with the
// customary augmentation (EventAugment: random flip, random roll), as counts or binary
// (FrameValues), with the same determinism and resumption as image batches. Package
// eventtest writes these formats and synthetic datasets for tests.
//
// # Preprocessing
//
// A Transform (NewTransform) maps an image to the model's input shape [C, H, W]: bilinear
// resize or centre pad/crop (Fit), grey -> 3 channels by replication or RGB -> grey by
// luma, then x = (p/255 - mean[c]) / std[c] with DefaultNorm's per-dataset constants unless
// overridden (for folder datasets use ComputeNorm on the training split, else 0.5/0.5).
// Training augmentation (Augment) is a random crop from the image zero-padded by Pad
// pixels and a random horizontal flip.
//
// # Batches
//
// A Loader serves Batches of BatchSize samples, NCHW float32. Iter (Loader.Start) prepares
// up to Prefetch batches ahead on Workers goroutines and stops on Close or context
// cancellation without leaking goroutines. Batches are recycled: a batch is the caller's
// until Batch.Release.
//
// Everything random is a function of (seed, epoch, dataset index): the epoch's order is
// Permutation(seed, epoch, n) and each sample's augmentation Augment.Draw (or
// EventAugment.Draw) of (seed, epoch, index), both math/rand/v2 PCG streams read through their raw outputs. So the batches do
// not depend on the number of workers or on timing, and Start(ctx, epoch, k) resumes an
// epoch at batch k with exactly the batches an uninterrupted run would have produced.
package data
