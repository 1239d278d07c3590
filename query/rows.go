package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// StatementError is a statement that DuckDB rejected or failed to run.
type StatementError struct {
	Statement string
	Err       error
}

func (e *StatementError) Error() string {
	return fmt.Sprintf("%v\nin the statement:\n  %s", e.Err, e.Statement)
}

func (e *StatementError) Unwrap() error { return e.Err }

// Invalid reports whether the statement itself is wrong (syntax, unknown
// table, column or function, wrong types), rather than its execution
// failing.
func (e *StatementError) Invalid() bool {
	var de *duckdb.Error
	if !errors.As(e.Err, &de) {
		return false
	}
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
		duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeParameterNotResolved,
		duckdb.ErrorTypeParameterNotAllowed:
		return true
	}
	return false
}

// ErrNoStatement is returned for SQL text without a statement.
var ErrNoStatement = errors.New("the SQL text contains no statement")

// Column is a result column: its name and DuckDB type (INTEGER, VARCHAR,
// TIMESTAMP, DATE, BLOB, INTEGER[], ...).
type Column struct {
	Name, Type string
}

// Rows is the result of the last statement of a query.
type Rows struct {
	Columns []Column
	rows    *sql.Rows
	dest    []any
	ptrs    []any
}

// Query runs the statements of text in order and returns the rows of the
// last one.
func (db *DB) Query(ctx context.Context, text string) (*Rows, error) {
	last, err := db.execAllButLast(ctx, text)
	if err != nil {
		return nil, err
	}
	rows, err := db.conn.QueryContext(ctx, last)
	if err != nil {
		return nil, &StatementError{Statement: last, Err: err}
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, &StatementError{Statement: last, Err: err}
	}
	r := &Rows{rows: rows, dest: make([]any, len(types)), ptrs: make([]any, len(types))}
	for i, t := range types {
		r.Columns = append(r.Columns, Column{Name: t.Name(), Type: t.DatabaseTypeName()})
		r.ptrs[i] = &r.dest[i]
	}
	return r, nil
}

// CopyParquet runs the statements of text in order and writes the rows of
// the last one to a Parquet file at path.
func (db *DB) CopyParquet(ctx context.Context, text, path string) error {
	last, err := db.execAllButLast(ctx, text)
	if err != nil {
		return err
	}
	if _, err := db.conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", last, quoteString(path))); err != nil {
		return &StatementError{Statement: last, Err: err}
	}
	return nil
}

// execAllButLast runs every statement of text but the last, which it
// returns.
func (db *DB) execAllButLast(ctx context.Context, text string) (string, error) {
	statements := SplitStatements(text)
	if len(statements) == 0 {
		return "", ErrNoStatement
	}
	for _, s := range statements[:len(statements)-1] {
		if _, err := db.conn.ExecContext(ctx, s); err != nil {
			return "", &StatementError{Statement: s, Err: err}
		}
	}
	return statements[len(statements)-1], nil
}

// Next returns the values of the next row, or io.EOF after the last. Values
// are nil, bool, int64, uint64, float64, *big.Int, json.Number (DECIMAL),
// string, []byte (BLOB), time.Time (DATE, TIME, TIMESTAMP: see the column
// type), []any (LIST, ARRAY) or map[string]any (STRUCT, MAP).
func (r *Rows) Next() ([]any, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return nil, err
	}
	values := make([]any, len(r.dest))
	for i, v := range r.dest {
		values[i] = plainValue(v)
	}
	return values, nil
}

// Close releases the result.
func (r *Rows) Close() error { return r.rows.Close() }

// plainValue converts a value of the DuckDB driver into one of the types
// that Rows.Next lists.
func plainValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte, time.Time, *big.Int:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case duckdb.Decimal:
		return json.Number(x.String())
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %s", x.Months, x.Days, time.Duration(x.Micros)*time.Microsecond)
	case duckdb.Union:
		return plainValue(x.Value)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainValue(e)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(plainValue(k))] = plainValue(e)
		}
		return out
	case duckdb.OrderedMap:
		out := make(map[string]any, x.Len())
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			out[fmt.Sprint(plainValue(k))] = plainValue(e)
		}
		return out
	}
	return fmt.Sprint(v)
}
