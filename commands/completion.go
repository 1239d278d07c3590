package commands

import (
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
)

// flagValueCompletions completes the values of flags that several commands
// share, by flag name.
var flagValueCompletions = map[string]cobra.CompletionFunc{
	"style":     cobra.FixedCompletions([]string{"classic", "tshark"}, cobra.ShellCompDirectiveNoFileComp),
	"output":    cobra.FixedCompletions([]string{"table", "json", "csv"}, cobra.ShellCompDirectiveNoFileComp),
	"link-type": cobra.FixedCompletions([]string{"radiotap", "802.11", "ppi", "prism", "avs"}, cobra.ShellCompDirectiveNoFileComp),
	"rate":      cobra.FixedCompletions([]string{"max", "realtime", "2x", "10x", "100x"}, cobra.ShellCompDirectiveNoFileComp),
	"start":     cobra.FixedCompletions([]string{"earliest", "latest"}, cobra.ShellCompDirectiveNoFileComp),
	"to":        cobra.FixedCompletions([]string{"-", "kafka:"}, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace),
	"from":      completeFrom,
	"fields":    completeFields,
	"interface": completeInterfaces,
	"tz": cobra.FixedCompletions([]string{"UTC", "Local", "Europe/Berlin", "Europe/London", "America/New_York",
		"America/Los_Angeles", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"}, cobra.ShellCompDirectiveNoFileComp),
}

// addFlagCompletions registers the value completions for every command in
// the tree that has one of the shared flags.
func addFlagCompletions(cmd *cobra.Command) {
	for name, fn := range flagValueCompletions {
		if f := cmd.Flags().Lookup(name); f != nil {
			_ = cmd.RegisterFlagCompletionFunc(name, fn)
		}
	}
	for _, sub := range cmd.Commands() {
		addFlagCompletions(sub)
	}
}

// completeFields completes the last name of a comma-separated field list.
func completeFields(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done := ""
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done = toComplete[:i+1]
	}
	out := []cobra.Completion{done + "default"}
	for _, name := range capture.FieldNames() {
		out = append(out, done+name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeFrom completes --from: a Kafka topic, or for consume a start
// position.
func completeFrom(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if cmd.Name() == "consume" {
		return []cobra.Completion{"earliest", "latest"}, cobra.ShellCompDirectiveNoFileComp
	}
	return []cobra.Completion{"kafka:"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeInterfaces lists the machine's network interfaces.
func completeInterfaces(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []cobra.Completion
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
