# govm: `make demo` and `make test` set up everything they need on a fresh
# Debian bookworm machine (apt-get, go), then run.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
B := build

.PHONY: all build guest guest-gl test demo bench bench-virgl deps clean help

all: build

help:
	@echo "make build   build $(B)/govm"
	@echo "make guest   build the tiny Linux guest ($(B)/guest) and the test guest ($(B)/testguest)"
	@echo "make guest-gl  build the OpenGL guest ($(B)/guest-gl: Mesa, kmscube, glmark2)"
	@echo "make demo    install what is missing, build, boot the tiny Linux guest"
	@echo "make test    install what is missing, build, run every test"
	@echo "make bench   boot-time and exit-cost benchmarks against QEMU, gokvm, kvmtool"
	@echo "make bench-virgl  kmscube frames/s under govm --gpu virgl against QEMU virtio-gpu-gl"

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -o $(B)/govm ./cmd/govm

guest: deps $(B)/guest/initrd.img $(B)/testguest/testguest.elf $(B)/kvmloop

$(B)/guest/initrd.img: scripts/build-linux-guest.sh scripts/lib-debian.sh guest-images/linux/init $(wildcard guest-images/linux/tests/*) guest-images/linux/modules-guest.txt
	scripts/build-linux-guest.sh $(B)/guest

guest-gl: guest $(B)/guest-gl/initrd.img

$(B)/guest-gl/initrd.img: $(B)/guest/initrd.img scripts/build-gl-guest.sh scripts/lib-debian.sh guest-images/linux-gl/packages.txt $(wildcard guest-images/linux-gl/tests/*)
	scripts/build-gl-guest.sh $(B)/guest-gl

$(B)/testguest/testguest.elf: guest-images/testguest/testguest.S guest-images/testguest/linker.ld guest-images/testguest/build.sh
	guest-images/testguest/build.sh $(B)/testguest

$(B)/kvmloop: bench/kvmloop/kvmloop.c
	gcc -O2 -Wall -o $@ $<

test: build guest guest-gl
	scripts/test.sh

demo: build guest
	scripts/demo.sh

bench: build guest
	bench/run.sh

bench-virgl: build guest-gl
	bench/virgl.sh

clean:
	rm -rf $(B)/govm $(B)/tests $(B)/testguest $(B)/kvmloop
