package commands

import "github.com/spf13/cobra"

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
