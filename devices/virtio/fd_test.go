package virtio_test

import "golang.org/x/sys/unix"

func writeFD(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
