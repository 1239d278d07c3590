package commands

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdSink builds the sink command, the parent of one subcommand per
// target system.
func NewCmdSink(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink TARGET",
		Short: "Write records into a database or search engine",
		Long: `Write records from files, standard input or a Kafka topic into another
system. Each target is a subcommand.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSinkPostgres(g))
	cmd.AddCommand(NewCmdSinkNeo4j(g))
	cmd.AddCommand(NewCmdSinkElasticsearch(g))
	return cmd
}

// rejectedMessage returns the summary of a sink run that rejected records.
// It names the dead-letter file, or points to the warnings in the log.
func rejectedMessage(rejected int64, deadLetter string) string {
	if deadLetter == "" {
		return fmt.Sprintf("%s rejected; the warnings above give the reasons (--dead-letter FILE keeps the records)", plural(rejected, "record"))
	}
	return fmt.Sprintf("%s rejected; they are in %s with the reasons", plural(rejected, "record"), deadLetter)
}
