package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// schemaFlags are the flags that say where a store's record types are described.
type schemaFlags struct {
	descriptor string
	union      string
}

func (f *schemaFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.descriptor, "descriptor", "", "the store's FileDescriptorSet ("+descriptorHint+")")
	cmd.Flags().StringVar(&f.union, "union", "", "the union message, when the descriptor set does not mark one (usage = UNION) or name one RecordTypeUnion")
}

func (f *schemaFlags) load() (*schema, error) { return loadSchema(f.descriptor, f.union) }

func (a *app) recordsCommand() *cobra.Command {
	var sf schemaFlags
	var wheres []string
	var limit int
	cmd := &cobra.Command{
		Use:   "records <store-path> <type>",
		Short: "Print the records of one type of a record store as JSON",
		Long: `records prints the records of one record type of the store at store-path, one JSON
object per line (protojson, with the .proto field names), in primary-key order.

The records are read by the store's key layout and decoded as the union message of
the descriptor set, so no primary keys or indexes need to be declared: any store
whose .proto you have can be read. --where keeps the records whose field equals a
value (several --where must all hold); a dotted name reaches into a message field,
and a repeated field matches when one of its elements does. An unset field compares
as its default value.`,
		Example: `  # every Book (the descriptor set from protoc)
  protoc --descriptor_set_out=catalogue.pb --include_imports catalogue.proto
  layerkit --db ./data records /library/catalogue Book --descriptor catalogue.pb

  # the books of one author on one branch, the first 10
  layerkit --db ./data records /library/catalogue Book --descriptor catalogue.pb \
      --where author=Tolkien --where branch=north --limit 10

  # pretty-printed with jq
  layerkit --db ./data records /library/catalogue Book --descriptor catalogue.pb | jq .`,
		Args: exactArgs(2),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			sch, err := sf.load()
			if err != nil {
				return err
			}
			typeField, err := sch.recordType(args[1])
			if err != nil {
				return err
			}
			var conds []condition
			for _, w := range wheres {
				c, err := parseWhere(typeField.Message(), w)
				if err != nil {
					return err
				}
				conds = append(conds, c)
			}
			db, loc, err := a.openAt(ctx, args[0])
			if err != nil {
				return err
			}
			h, err := openStoreHeader(ctx, db, loc)
			if err != nil {
				return err
			}
			sc := &recordScanner{db: db, prefix: loc.prefix, display: loc.display(), header: h}
			n, more := 0, false
			err = sc.scan(ctx, func(rec rawRecord) error {
				msg, fd, err := decodeRecord(sch.union, rec)
				if err != nil {
					return fmt.Errorf("record store %s: %w", loc.display(), err)
				}
				if fd.Number() != typeField.Number() || !matchAll(conds, msg) {
					return nil
				}
				if limit > 0 && n == limit {
					more = true
					return errStopScan
				}
				n++
				line, err := recordJSON(msg)
				if err != nil {
					return fmt.Errorf("record store %s: record %v: %w", loc.display(), rec.pk, err)
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", line)
				return err
			})
			if err != nil && !errors.Is(err, errStopScan) {
				return err
			}
			a.noteLimit(n, more, plural(n, "record", "records"), fmt.Sprintf("no %s records in %s match", typeField.Message().Name(), loc.display()))
			return nil
		}),
	}
	sf.register(cmd)
	cmd.Flags().StringArrayVar(&wheres, "where", nil, "keep records whose field equals value: field=value (repeatable; all must hold)")
	cmd.Flags().IntVar(&limit, "limit", 100, "most records to print (0: no limit)")
	return cmd
}

func matchAll(conds []condition, m protoreflect.Message) bool {
	for _, c := range conds {
		if !c.matches(m) {
			return false
		}
	}
	return true
}

// recordJSON is the protojson form of a record on one line. protojson varies its spacing on
// purpose so that nobody depends on it; compacting it makes the output stable.
func recordJSON(m protoreflect.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m.Interface())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
