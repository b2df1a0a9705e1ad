package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/govm/govm/machine/control"
)

func ctlCmd() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "ctl --socket PATH COMMAND [ARG]",
		Short: "Send a command to a running VM's control socket",
		Long: `ctl talks to a VM started with 'govm run --control PATH'. Commands:

  screenshot FILE.png   write the guest's screen (needs --gpu 2d)
  stats                 uptime and exits so far, by kind
  state                 what each vCPU (halted or running, rip, pending
                        interrupts) and each virtio queue is doing now
  powerbutton           press the guest's ACPI power button
  quit                  stop the VM now`,
		Example: `  govm run --kernel bzImage --initrd initrd.img --gpu 2d --control /tmp/vm.sock &
  govm ctl --socket /tmp/vm.sock screenshot now.png
  govm ctl --socket /tmp/vm.sock state
  govm ctl --socket /tmp/vm.sock powerbutton`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if socket == "" {
				return withCode(exitUsage, fmt.Errorf("--socket is required"))
			}
			out, err := control.Do(socket, strings.Join(args, " "))
			if err != nil {
				return err
			}
			if out != "" && out != "ok" {
				fmt.Println(strings.TrimRight(out, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "the VM's control socket (govm run --control)")
	return cmd
}
