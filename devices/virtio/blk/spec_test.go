package blk

import "testing"

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Options
		bad  bool
	}{
		{in: "disk.img", want: Options{Path: "disk.img"}},
		{in: "/a/b c.img", want: Options{Path: "/a/b c.img"}},
		{in: "disk.img,ro", want: Options{Path: "disk.img", ReadOnly: true}},
		{in: "disk.img,ro,id=foo", want: Options{Path: "disk.img", ReadOnly: true, ID: "foo"}},
		{in: "disk.img,id=foo,ro", want: Options{Path: "disk.img", ReadOnly: true, ID: "foo"}},
		{in: "disk.img,id=a=b", want: Options{Path: "disk.img", ID: "a=b"}},
		{in: "", bad: true},
		{in: ",ro", bad: true},
		{in: "disk.img,", bad: true},
		{in: "disk.img,,ro", bad: true},
		{in: "disk.img,rw", bad: true},
		{in: "disk.img,ro=1", bad: true},
		{in: "disk.img,RO", bad: true},
		{in: "disk.img,ro,ro", bad: true},
		{in: "disk.img,id=", bad: true},
		{in: "disk.img,id", bad: true},
		{in: "disk.img,id=a,id=b", bad: true},
		{in: "disk.img,id=abcdefghijklmnopqrstu", bad: true},
		{in: "disk.img,cache=none", bad: true},
	} {
		got, err := ParseSpec(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("ParseSpec(%q) = %+v, want an error", tc.in, got)
		case !tc.bad && err != nil:
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
		case !tc.bad && got != tc.want:
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"disk.img", "disk.img,ro", "disk.img,ro,id=foo", "a,,", "x,id=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseSpec(s)
		if err != nil {
			return
		}
		if o.Path == "" {
			t.Fatalf("%q: empty path accepted", s)
		}
		if _, err := makeID(o); err != nil {
			t.Fatalf("%q: accepted an id Open rejects: %v", s, err)
		}
	})
}
