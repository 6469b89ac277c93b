package data

import (
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
		err  string
	}{
		{"fashion-mnist", Spec{FashionMNIST, FashionMNISTDir()}, ""},
		{"fashion-mnist:/data/fm", Spec{FashionMNIST, "/data/fm"}, ""},
		{"Fashion-MNIST:rel/dir", Spec{FashionMNIST, "rel/dir"}, ""},
		{"mnist:/m", Spec{MNIST, "/m"}, ""},
		{"cifar10:/c", Spec{CIFAR10, "/c"}, ""},
		{"cifar100:/c:with:colons", Spec{CIFAR100, "/c:with:colons"}, ""},
		{"folder:./imgs", Spec{Folder, "./imgs"}, ""},
		{"nmnist:/d/N-MNIST", Spec{NMNIST, "/d/N-MNIST"}, ""},
		{"DVSGesture:/d/DvsGesture", Spec{DVSGesture, "/d/DvsGesture"}, ""},
		{"cifar10dvs:/d/c", Spec{CIFAR10DVS, "/d/c"}, ""},
		{"nmnist", Spec{}, "needs a folder"},
		{"mnist", Spec{}, "needs a folder"},
		{"folder", Spec{}, "needs a folder"},
		{"cifar10:", Spec{}, "empty DIR"},
		{"imagenet:/x", Spec{}, `unknown dataset "imagenet"`},
		{"", Spec{}, "unknown dataset"},
	}
	for _, c := range cases {
		got, err := ParseSpec(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSpec(%q) error %v, want %q", c.in, err, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), SpecForms) {
				t.Errorf("ParseSpec(%q) error %q does not list the accepted forms", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if back, err := ParseSpec(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %+v %v", c.in, back, err)
		}
	}
	for k, ev := range map[Kind]bool{NMNIST: true, DVSGesture: true, CIFAR10DVS: true, MNIST: false, Folder: false} {
		if k.IsEvent() != ev {
			t.Errorf("%s.IsEvent() = %v", k, !ev)
		}
	}
	if Train.String() != "train" || Test.String() != "test" {
		t.Error("Split.String")
	}
}
