package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/govm/govm/devices/gpu/virgl"
	"github.com/govm/govm/kvm"
	"github.com/govm/govm/machine"
)

func probeCmd() *cobra.Command {
	var verdictOnly bool
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Check /dev/kvm and measure whether guest kernel code runs natively",
		Long: `probe opens /dev/kvm, prints the API version and the capabilities govm
needs, then times a tight loop in a guest's ring 0. On hardware
virtualisation it runs at hundreds of millions of iterations a second; on a
host whose KVM emulates kernel-mode code (about a million a second) a stock
Linux kernel will not boot, and govm's tests use the nested harness instead.

Exit status: 0 when KVM is usable (either verdict), 1 when it is not.`,
		Example: `  govm probe
  govm probe --verdict     # prints just "native" or "emulated"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, err := kvm.Open()
			if err != nil {
				return err
			}
			defer sys.Close()
			if !verdictOnly {
				v, _ := sys.APIVersion()
				fmt.Printf("/dev/kvm: API version %d, vCPU mmap size %d\n", v, sys.VCPUMmapSize())
				fmt.Println("capabilities:")
				for _, c := range kvm.RequiredCaps {
					n, err := sys.Check(c)
					state := "yes"
					if err != nil || n <= 0 {
						state = "MISSING"
					}
					fmt.Printf("  %-32s %s\n", c, state)
				}
				for _, c := range []kvm.Cap{kvm.CapNRVCPUs, kvm.CapMaxVCPUs} {
					n, _ := sys.Check(c)
					fmt.Printf("  %-32s %d\n", c, n)
				}
			}
			if err := sys.CheckRequired(); err != nil {
				return err
			}
			p, err := machine.MeasureRing0(sys)
			if err != nil {
				return fmt.Errorf("ring-0 probe: %w", err)
			}
			if verdictOnly {
				fmt.Println(p.Verdict)
				return nil
			}
			fmt.Printf("ring-0 guest code: %v\n", p)
			if r, err := virgl.New(virgl.Options{}); err != nil {
				fmt.Printf("virgl: unavailable: %v\n", err)
			} else {
				vendor, renderer, version := r.RendererString()
				fmt.Printf("virgl: host renderer %q (%s), GL %s, %d capsets\n", renderer, vendor, version, r.NumCapsets())
				r.Close()
			}
			if p.Verdict == machine.Ring0Emulated {
				fmt.Println("verdict: emulated — stock Linux kernels will not boot on this host's KVM;\n" +
					"         the test guest runs, and Linux tests go through scripts/nested.sh")
			} else {
				fmt.Println("verdict: native — Linux guests run directly")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&verdictOnly, "verdict", false, "print only the verdict: native or emulated")
	return cmd
}
