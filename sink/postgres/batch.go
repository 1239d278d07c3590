package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// stagingTable is the temporary table that COPY fills; it is dropped at
// the end of each transaction.
const stagingTable = "wifiq_staging"

type column struct {
	name string
	typ  columnType
}

type rejection struct {
	row    row
	reason string
}

// batch is the buffered records turned into column values.
type batch struct {
	newColumns []column
	// arrayColumns are existing scalar columns that this batch turns into
	// text[], because a record has other than one value for them.
	arrayColumns []string
	columns      []column // all columns after newColumns are added
	rows         [][]any
	sources      []row // the row each of rows came from, for dead letters
	rejected     []rejection
	// serverRejected are indexes into rows that the server refused in a
	// row-by-row retry of the batch.
	serverRejected []int
	offsets        map[Position]int64 // the next offset to read per partition
}

// prepare types new fields, converts every record and sets aside those
// that do not fit their columns.
func (s *Sink) prepare() (*batch, error) {
	b := &batch{offsets: map[Position]int64{}}
	for pos := range s.offsets {
		key := Position{Topic: pos.Topic, Partition: pos.Partition}
		if next := pos.Offset + 1; next > b.offsets[key] {
			b.offsets[key] = next
		}
	}
	b.newColumns = s.newColumns()
	b.columns = make([]column, 0, len(s.order)+len(b.newColumns))
	for _, name := range s.order {
		b.columns = append(b.columns, column{name, s.columns[name]})
	}
	b.columns = append(b.columns, b.newColumns...)
	b.arrayColumns = s.arrayColumns()
	for i, c := range b.columns {
		if slices.Contains(b.arrayColumns, c.name) {
			b.columns[i].typ = typeTextArray
		}
	}
	if !s.tableOK && len(b.columns) > 0 {
		if err := s.checkKeyColumns(b.columns); err != nil {
			return nil, err
		}
	}

	index := make(map[string]int, len(b.columns))
	for i, c := range b.columns {
		index[c.name] = i
	}
	byKey := map[string]int{}
	for _, r := range s.pending {
		if r.raw != nil {
			b.rejected = append(b.rejected, rejection{r, r.reason})
			continue
		}
		values, err := s.convertRow(r, b.columns, index)
		if err != nil {
			b.rejected = append(b.rejected, rejection{r, err.Error()})
			continue
		}
		// One INSERT ... ON CONFLICT cannot update a row twice, so the
		// last record of a key in the batch wins, as it would one by one.
		if len(s.opts.PrimaryKey) > 0 {
			key := keyOf(values, s.opts.PrimaryKey, index)
			if i, ok := byKey[key]; ok {
				b.rows[i], b.sources[i] = values, r
				continue
			}
			byKey[key] = len(b.rows)
		}
		b.rows = append(b.rows, values)
		b.sources = append(b.sources, r)
	}
	return b, nil
}

// arrayColumns returns the existing text, number and boolean columns that
// a buffered record has other than one value for, sorted. A field that
// held one value in the first batch can repeat later (a vendor element,
// say), so such a column becomes text[], the type a first batch with
// several values would have given it, rather than rejecting the record.
// Key columns and timestamps stay as they are: several values there are
// rejected.
func (s *Sink) arrayColumns() []string {
	var names []string
	for _, r := range s.pending {
		for _, f := range r.fields {
			typ, ok := s.columns[f.Key]
			promotable := typ == typeText || typ == typeBigint || typ == typeDouble || typ == typeBoolean
			if !ok || len(f.Values) == 1 || !promotable || s.isKey[f.Key] {
				continue
			}
			if !slices.Contains(names, f.Key) {
				names = append(names, f.Key)
			}
		}
	}
	slices.Sort(names)
	return names
}

// newColumns types the fields that have no column yet from all their
// values in the buffered records, sorted by name so runs agree.
func (s *Sink) newColumns() []column {
	values := map[string][]string{}
	array := map[string]bool{}
	for _, r := range s.pending {
		if r.raw != nil {
			continue
		}
		if _, ok := s.columns[TimestampColumn]; !ok && !r.noTimestamp {
			values[TimestampColumn] = append(values[TimestampColumn], strconv.FormatInt(r.timestamp, 10))
		}
		for _, f := range r.fields {
			if _, ok := s.columns[f.Key]; ok || checkIdentifier("field", f.Key) != nil {
				continue
			}
			values[f.Key] = append(values[f.Key], f.Values...)
			if len(f.Values) != 1 {
				array[f.Key] = true
			}
		}
	}
	var cols []column
	for name, vs := range values {
		var t columnType
		switch {
		case s.isTs[name] && !array[name]:
			t = typeTimestamptz
		case s.isKey[name]:
			t = inferType(vs, false)
		default:
			t = inferType(vs, array[name] || s.isArray[name])
		}
		cols = append(cols, column{name, t})
	}
	sort.Slice(cols, func(i, j int) bool {
		// The timestamp comes first, as in the records.
		if (cols[i].name == TimestampColumn) != (cols[j].name == TimestampColumn) {
			return cols[i].name == TimestampColumn
		}
		return cols[i].name < cols[j].name
	})
	return cols
}

func (s *Sink) checkKeyColumns(cols []column) error {
	for _, k := range s.opts.PrimaryKey {
		found := false
		for _, c := range cols {
			found = found || c.name == k
		}
		if !found {
			return fmt.Errorf("primary key field %q is in none of the first records: check --pk", k)
		}
	}
	return nil
}

func (s *Sink) convertRow(r row, cols []column, index map[string]int) ([]any, error) {
	values := make([]any, len(cols))
	if i, ok := index[TimestampColumn]; ok && !r.noTimestamp {
		v, err := convertScalar(cols[i].typ, strconv.FormatInt(r.timestamp, 10))
		if err != nil {
			return nil, fmt.Errorf("field timestamp: %v", err)
		}
		values[i] = v
	}
	for _, f := range r.fields {
		if f.Key == TimestampColumn {
			continue
		}
		if err := checkIdentifier("field", f.Key); err != nil {
			return nil, err
		}
		i := index[f.Key]
		v, err := convertField(cols[i].typ, f.Values)
		if err != nil {
			return nil, fmt.Errorf("field %s: %v", f.Key, err)
		}
		values[i] = v
	}
	for _, k := range s.opts.PrimaryKey {
		if values[index[k]] == nil {
			return nil, fmt.Errorf("primary key field %s is missing", k)
		}
	}
	return values, nil
}

func keyOf(values []any, key []string, index map[string]int) string {
	var b strings.Builder
	for _, k := range key {
		fmt.Fprintf(&b, "%v\x00", values[index[k]])
	}
	return b.String()
}

// writeBatch runs one transaction: schema changes, COPY into the staging
// table, the merge into the table and the offsets.
func (s *Sink) writeBatch(ctx context.Context, b *batch) error {
	conn, err := s.connection(ctx)
	if err != nil {
		return err
	}
	b.serverRejected = nil
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())

	if err := s.alterTable(ctx, tx, b); err != nil {
		return err
	}
	if len(b.rows) > 0 {
		err := s.merge(ctx, tx, b)
		if isDataError(err) {
			// Some row was refused by the server (a key too large for
			// the index, say): start over and insert row by row.
			tx.Rollback(ctx)
			return s.writeRowByRow(ctx, conn, b, err)
		}
		if err != nil {
			return err
		}
	}
	if err := storeOffsets(ctx, tx, s.opts.Table, b.offsets); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (s *Sink) alterTable(ctx context.Context, tx pgx.Tx, b *batch) error {
	table := pgx.Identifier{s.opts.Table}.Sanitize()
	for _, name := range b.arrayColumns {
		s.log.Info("changing a column to text[], because a record has several values for it", "table", s.opts.Table, "column", name)
		column := pgx.Identifier{name}.Sanitize()
		sql := "ALTER TABLE " + table + " ALTER COLUMN " + column + " TYPE text[] USING CASE WHEN " + column +
			" IS NULL THEN NULL ELSE ARRAY[" + column + "::text] END"
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("unable to change column %q of table %s to text[]: %w", name, s.opts.Table, err)
		}
	}
	if len(b.arrayColumns) > 0 {
		// pgx caches the column types of the statements it ran, COPY's
		// included: forget them, or COPY encodes for the old type.
		if err := tx.Conn().DeallocateAll(ctx); err != nil {
			return fmt.Errorf("unable to reset the statement cache after changing column types: %w", err)
		}
	}
	if len(b.newColumns) == 0 {
		return nil
	}
	if !s.tableOK {
		defs := make([]string, 0, len(b.columns)+1)
		for _, c := range b.columns {
			defs = append(defs, pgx.Identifier{c.name}.Sanitize()+" "+string(c.typ))
		}
		if len(s.opts.PrimaryKey) > 0 {
			defs = append(defs, "PRIMARY KEY ("+identifierList(s.opts.PrimaryKey)+")")
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("unable to create table %s: %w", s.opts.Table, err)
		}
	}
	if !s.tableOK {
		return nil
	}
	for _, c := range b.newColumns {
		s.log.Info("adding a column", "table", s.opts.Table, "column", c.name, "type", c.typ)
		sql := "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + pgx.Identifier{c.name}.Sanitize() + " " + string(c.typ)
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("unable to add column %q to table %s: %w", c.name, s.opts.Table, err)
		}
	}
	return nil
}

func identifierList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(quoted, ", ")
}

// mergeSQL is the INSERT ... SELECT from the staging table.
func (s *Sink) mergeSQL(cols []string) string {
	list := identifierList(cols)
	sql := "INSERT INTO " + pgx.Identifier{s.opts.Table}.Sanitize() + " (" + list + ") SELECT " + list +
		" FROM " + pgx.Identifier{stagingTable}.Sanitize()
	return sql + s.conflictClause(cols)
}

// conflictClause makes an insert an upsert: a record replaces every column
// of the row with its key.
func (s *Sink) conflictClause(cols []string) string {
	if len(s.opts.PrimaryKey) == 0 {
		return ""
	}
	var sets []string
	for _, c := range cols {
		if !s.isKey[c] {
			q := pgx.Identifier{c}.Sanitize()
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	if len(sets) == 0 {
		return " ON CONFLICT (" + identifierList(s.opts.PrimaryKey) + ") DO NOTHING"
	}
	return " ON CONFLICT (" + identifierList(s.opts.PrimaryKey) + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

func columnNames(cols []column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

func (s *Sink) merge(ctx context.Context, tx pgx.Tx, b *batch) error {
	table := pgx.Identifier{s.opts.Table}.Sanitize()
	staging := pgx.Identifier{stagingTable}.Sanitize()
	if _, err := tx.Exec(ctx, "CREATE TEMPORARY TABLE "+staging+" (LIKE "+table+") ON COMMIT DROP"); err != nil {
		return fmt.Errorf("unable to create the staging table: %w", err)
	}
	names := columnNames(b.columns)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stagingTable}, names, pgx.CopyFromRows(b.rows)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, s.mergeSQL(names))
	return err
}

// writeRowByRow inserts each row in a savepoint of its own and sends the
// rows the server refuses to the dead letter. firstErr is the error of the
// batched attempt.
func (s *Sink) writeRowByRow(ctx context.Context, conn *pgx.Conn, b *batch, firstErr error) error {
	s.log.Warn("server rejected a batch; retrying row by row", "table", s.opts.Table, "rows", len(b.rows), "err", firstErr)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := s.alterTable(ctx, tx, b); err != nil {
		return err
	}
	names := columnNames(b.columns)
	placeholders := make([]string, len(names))
	for i := range names {
		placeholders[i] = "$" + strconv.Itoa(i+1)
	}
	sql := "INSERT INTO " + pgx.Identifier{s.opts.Table}.Sanitize() + " (" + identifierList(names) + ") VALUES (" +
		strings.Join(placeholders, ", ") + ")" + s.conflictClause(names)
	var refused []rejection
	for i, values := range b.rows {
		if _, err := tx.Exec(ctx, "SAVEPOINT wifiq_row"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, values...)
		if isDataError(err) {
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT wifiq_row"); err != nil {
				return err
			}
			b.serverRejected = append(b.serverRejected, i)
			refused = append(refused, rejection{b.sources[i], "rejected by the server: " + err.Error()})
			continue
		}
		if err != nil {
			return err
		}
	}
	if err := storeOffsets(ctx, tx, s.opts.Table, b.offsets); err != nil {
		return err
	}
	if err := s.writeDeadLetters(refused); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func storeOffsets(ctx context.Context, tx pgx.Tx, table string, offsets map[Position]int64) error {
	for pos, next := range offsets {
		_, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{OffsetsTable}.Sanitize()+` ("table", topic, partition, "offset")
			VALUES ($1, $2, $3, $4) ON CONFLICT ("table", topic, partition) DO UPDATE SET "offset" = EXCLUDED."offset"`,
			table, pos.Topic, pos.Partition, next)
		if err != nil {
			return fmt.Errorf("unable to store the offsets: %w", err)
		}
	}
	return nil
}

// isDataError reports errors caused by a row's values: SQLSTATE classes 22
// (data exception), 23 (integrity constraint) and 54 (program limit
// exceeded, such as an index row larger than a page allows).
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// retryable reports errors that a new connection may fix: network errors
// and the server shutting down, starting or out of connections.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57", "40":
			return pgErr.Code != "57014" // query_canceled means we were stopped
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var permanent permanentError
	if errors.As(err, &permanent) {
		return false
	}
	// Other errors without a SQLSTATE are network and protocol errors.
	return true
}

// permanentError is an error of this sink that no retry can fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }
