package neo4j

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// OffsetLabel is the label of the nodes that store Kafka offsets.
const OffsetLabel = "WifiqOffset"

// server runs transactions on one Neo4j DBMS.
type server struct {
	driver   driver.DriverWithContext
	database string
}

func newServer(conn Connection) (*server, error) {
	d, err := driver.NewDriverWithContext(conn.URI, driver.BasicAuth(conn.User, conn.Password, ""), func(c *config.Config) {
		c.SocketConnectTimeout = 5 * time.Second
		c.ConnectionAcquisitionTimeout = 30 * time.Second
	})
	if err != nil {
		return nil, fmt.Errorf("invalid Neo4j connection settings for %s: %w", conn.Describe(), err)
	}
	return &server{driver: d, database: conn.Database}, nil
}

func (s *server) session(ctx context.Context) driver.SessionWithContext {
	return s.driver.NewSession(ctx, driver.SessionConfig{DatabaseName: s.database, AccessMode: driver.AccessModeWrite})
}

// setup checks the connection, creates the mode's constraints and the
// offsets constraint, and plans the mode's check statement.
func (s *server) setup(ctx context.Context, mode Mode) error {
	if err := s.driver.VerifyConnectivity(ctx); err != nil {
		return classify(err)
	}
	statements := append([]string{
		"CREATE CONSTRAINT wifiq_offset_id IF NOT EXISTS FOR (n:" + OffsetLabel + ") REQUIRE n.id IS UNIQUE",
	}, mode.Setup...)
	session := s.session(ctx)
	defer session.Close(context.WithoutCancel(ctx))
	for _, statement := range statements {
		result, err := session.Run(ctx, statement, nil)
		if err == nil {
			_, err = result.Consume(ctx)
		}
		if err != nil {
			return fmt.Errorf("unable to create a constraint (%s): %w", statement, classify(err))
		}
	}
	if mode.Check != nil {
		result, err := session.Run(ctx, mode.Check.Text, mode.Check.Params)
		if err == nil {
			_, err = result.Consume(ctx)
		}
		if err != nil {
			err = classify(err)
			var rejected *recordError
			if errors.As(err, &rejected) {
				return permanentError{fmt.Errorf("invalid --cypher template: %s", rejected.Error())}
			}
			return err
		}
	}
	return nil
}

// write runs queries and offsets in one transaction and commits it.
func (s *server) write(ctx context.Context, queries []Query, offsets *Query) error {
	session := s.session(ctx)
	defer session.Close(context.WithoutCancel(ctx))
	tx, err := session.BeginTransaction(ctx)
	if err != nil {
		return classify(err)
	}
	if offsets != nil {
		queries = append(queries[:len(queries):len(queries)], *offsets)
	}
	for _, q := range queries {
		result, err := tx.Run(ctx, q.Text, q.Params)
		if err == nil {
			_, err = result.Consume(ctx)
		}
		if err != nil {
			tx.Close(context.WithoutCancel(ctx))
			return classify(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(err)
	}
	return nil
}

func (s *server) storedOffsets(ctx context.Context, sinkID, topic string) (map[int32]int64, error) {
	session := s.session(ctx)
	defer session.Close(context.WithoutCancel(ctx))
	result, err := session.Run(ctx, "MATCH (n:"+OffsetLabel+" {sink: $sink, topic: $topic}) RETURN n.partition AS partition, n.offset AS offset",
		map[string]any{"sink": sinkID, "topic": topic})
	if err != nil {
		return nil, classify(err)
	}
	records, err := result.Collect(ctx)
	if err != nil {
		return nil, classify(err)
	}
	offsets := map[int32]int64{}
	for _, r := range records {
		partition, _ := r.Get("partition")
		offset, _ := r.Get("offset")
		p, ok1 := partition.(int64)
		o, ok2 := offset.(int64)
		if !ok1 || !ok2 {
			return nil, permanentError{fmt.Errorf("invalid %s node for topic %s: partition %v, offset %v; delete it to start over", OffsetLabel, topic, partition, offset)}
		}
		offsets[int32(p)] = o
	}
	return offsets, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.driver.Close(ctx)
}

// recordError is a server error caused by the data of a transaction: a
// type error, a constraint violation, a failed conversion. Another attempt
// fails the same way, so the records go to the dead letter.
type recordError struct{ err *driver.Neo4jError }

func (e *recordError) Error() string { return e.err.Code + ": " + e.err.Msg }
func (e *recordError) Unwrap() error { return e.err }

// permanentError is an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// classify wraps a server error about the data as a recordError and
// explains an authentication failure; other errors pass unchanged.
func classify(err error) error {
	var neo *driver.Neo4jError
	if !errors.As(err, &neo) {
		return err
	}
	switch {
	case strings.HasPrefix(neo.Code, "Neo.ClientError.Security."):
		return permanentError{fmt.Errorf("authentication failed (%s): check NEO4J_USERNAME and NEO4J_PASSWORD (or WIFIQ_NEO4J_USERNAME, WIFIQ_NEO4J_PASSWORD, --password-file)", neo.Code)}
	case strings.HasPrefix(neo.Code, "Neo.ClientError.Database."):
		return permanentError{fmt.Errorf("Neo4j database error (%s): %s; check --database", neo.Code, neo.Msg)}
	case strings.HasPrefix(neo.Code, "Neo.ClientError.Statement."),
		strings.HasPrefix(neo.Code, "Neo.ClientError.Schema."),
		strings.HasPrefix(neo.Code, "Neo.ClientError.Procedure."),
		strings.HasPrefix(neo.Code, "Neo.ClientError.Request."):
		return &recordError{neo}
	}
	return err
}

// retryable reports whether a new attempt may succeed: the connection was
// lost or refused, or the server reported a transient error.
func retryable(err error) bool {
	var permanent permanentError
	var rejected *recordError
	if errors.As(err, &permanent) || errors.As(err, &rejected) {
		return false
	}
	if driver.IsRetryable(err) || driver.IsConnectivityError(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var neo *driver.Neo4jError
	if errors.As(err, &neo) {
		return strings.HasPrefix(neo.Code, "Neo.TransientError.")
	}
	var usage *driver.UsageError
	if errors.As(err, &usage) {
		return false
	}
	// The driver reports a closed or reset connection in several ways
	// without a common type.
	message := err.Error()
	return strings.Contains(message, "connection") || strings.Contains(message, "EOF")
}
