package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
)

// location is what a path argument names: a directory of the default directory layer, or a raw
// key prefix.
type location struct {
	// arg is the argument as given, for messages.
	arg string
	// path is the directory path; nil for a raw prefix, empty for the root directory.
	path []string
	// prefix is where the contents live: the directory's prefix, the raw prefix, or empty for
	// the root (the whole keyspace).
	prefix []byte
	// partition reports a directory partition, whose prefix also holds its own directory nodes.
	partition bool
}

func (l location) raw() bool { return l.path == nil }

// display names the location in output: the directory path, or the raw prefix.
func (l location) display() string {
	if l.raw() {
		return "raw:" + kv.Printable(l.prefix)
	}
	return "/" + strings.Join(l.path, "/")
}

// parsePath parses a directory path argument: names separated by "/", with or without a leading
// "/"; "/" (or "") is the root.
func parsePath(arg string) ([]string, error) {
	s := strings.TrimPrefix(arg, "/")
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(strings.TrimSuffix(s, "/"), "/")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("path %q has an empty name", arg)
		}
	}
	return parts, nil
}

// parseRawPrefix parses "raw:<bytes>" (printable ASCII, \\ for a backslash, \xNN for any byte,
// the form FoundationDB's tools print) or "hex:<hex digits>". ok is false when arg is neither.
func parseRawPrefix(arg string) (prefix []byte, ok bool, err error) {
	switch {
	case strings.HasPrefix(arg, "raw:"):
		b, err := unprintable(arg[len("raw:"):])
		if err != nil {
			return nil, true, fmt.Errorf("raw prefix %q: %w", arg, err)
		}
		return b, true, nil
	case strings.HasPrefix(arg, "hex:"):
		b, err := hex.DecodeString(strings.ReplaceAll(arg[len("hex:"):], " ", ""))
		if err != nil {
			return nil, true, fmt.Errorf("hex prefix %q: %w", arg, err)
		}
		return b, true, nil
	}
	return nil, false, nil
}

// unprintable reverses kv.Printable.
func unprintable(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && s[i+1] == 'x':
			b, err := hex.DecodeString(s[i+2 : i+4])
			if err != nil {
				return nil, fmt.Errorf("bad escape %q at byte %d", s[i:i+4], i)
			}
			out = append(out, b[0])
			i += 3
		default:
			return nil, fmt.Errorf("bad escape at byte %d: want \\\\ or \\xNN", i)
		}
	}
	return out, nil
}

// locate resolves a path argument in db: a raw prefix as it is, a directory by opening it.
func locate(ctx context.Context, db kv.ReadTransactor, arg string) (location, error) {
	if prefix, ok, err := parseRawPrefix(arg); ok {
		return location{arg: arg, prefix: prefix}, err
	}
	path, err := parsePath(arg)
	if err != nil {
		return location{}, err
	}
	loc := location{arg: arg, path: path, prefix: []byte{}}
	if len(path) == 0 {
		return loc, nil
	}
	d, err := directory.Open(ctx, db, path, nil)
	if errors.Is(err, directory.ErrDirNotExists) {
		return location{}, fmt.Errorf("no directory %s", loc.display())
	}
	if err != nil {
		return location{}, fmt.Errorf("open the directory %s: %w", loc.display(), err)
	}
	loc.prefix, err = directoryPrefix(d)
	loc.partition = d.IsPartition()
	return loc, err
}

// directoryPrefix returns the prefix of a directory, a partition's included. The directory
// package hands out a partition's prefix only in its String form (Subspace refuses a partition
// root, whose prefix holds the partition's own nodes), so it is read back from there.
func directoryPrefix(d directory.DirectorySubspace) ([]byte, error) {
	if ss, err := d.Subspace(); err == nil {
		return ss.Bytes(), nil
	}
	kind := "DirectorySubspace"
	if d.IsPartition() {
		kind = "DirectoryPartition"
	}
	s := d.String()
	head := kind + "((" + strings.Join(d.GetPath(), ",") + "), "
	if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("directory %s: cannot read its prefix from %q", "/"+strings.Join(d.GetPath(), "/"), s)
	}
	return unprintable(s[len(head) : len(s)-1])
}

// contentRange is the range of every key under prefix; for the empty prefix, the whole user
// keyspace.
func contentRange(prefix []byte) kv.Range {
	if len(prefix) == 0 {
		return kv.Range{Begin: []byte{}, End: []byte{0xff}}
	}
	r, err := kv.PrefixRange(prefix)
	if err != nil {
		// Only a prefix of 0xff bytes has no successor: it is the system keyspace.
		return kv.Range{Begin: prefix, End: prefix}
	}
	return r
}

// openAt opens the database and resolves a path argument in it.
func (a *app) openAt(ctx context.Context, arg string) (kv.Database, location, error) {
	db, err := a.database(ctx)
	if err != nil {
		return nil, location{}, err
	}
	loc, err := locate(ctx, db, arg)
	return db, loc, err
}

// checkLimit refuses a negative --limit.
func checkLimit(limit int) error {
	if limit < 0 {
		return fmt.Errorf("--limit %d: want 0 (no limit) or more", limit)
	}
	return nil
}

// noteLimit tells, on stderr, that a listing stopped at --limit with more to show, or that it
// found nothing.
func (a *app) noteLimit(n int, more bool, counted, none string) {
	switch {
	case more:
		fmt.Fprintf(a.stderr, "layerkit: printed the first %s; there are more (raise --limit, 0 for all)\n", counted)
	case n == 0:
		fmt.Fprintf(a.stderr, "layerkit: %s\n", none)
	}
}
