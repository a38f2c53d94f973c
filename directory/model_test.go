package directory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/stretchr/testify/require"
)

// mnode is a directory of the model: a plain tree where a partition is a flag.
type mnode struct {
	children  map[string]*mnode
	partition bool
}

func newMnode(partition bool) *mnode {
	return &mnode{children: map[string]*mnode{}, partition: partition}
}

// walk follows path from layer the way a directory layer resolves it: it stops at a missing
// directory or at a partition (whose inside is another layer). It returns the node reached,
// how many elements it consumed, and whether that node exists.
func walk(layer *mnode, path []string) (*mnode, int, bool) {
	cur := layer
	for i, name := range path {
		c := cur.children[name]
		if c == nil {
			return nil, i + 1, false
		}
		cur = c
		if c.partition {
			return c, i + 1, true
		}
	}
	return cur, len(path), true
}

func pathHasPrefix(p, prefix []string) bool {
	return len(prefix) <= len(p) && equalStrings(p[:len(prefix)], prefix)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// create adds path below layer (creating parents); the caller knows it is missing.
func create(layer *mnode, path []string, partition bool) {
	cur := layer
	for i, name := range path {
		c := cur.children[name]
		if c == nil {
			c = newMnode(partition && i == len(path)-1)
			cur.children[name] = c
		}
		cur = c
	}
}

func mOpen(layer *mnode, path []string, allowCreate, allowOpen, partition bool) error {
	if len(path) == 0 {
		return directory.ErrCannotOpenRoot
	}
	n, depth, found := walk(layer, path)
	if found {
		if n.partition && depth < len(path) {
			return mOpen(n, path[depth:], allowCreate, allowOpen, partition)
		}
		if !allowOpen {
			return directory.ErrDirAlreadyExists
		}
		// Opening with a layer checks it (a nil layer is not checked); the model's only layer
		// is "partition", and partition says it was given.
		if partition && !n.partition {
			return directory.ErrIncompatibleLayer
		}
		return nil
	}
	if !allowCreate {
		return directory.ErrDirNotExists
	}
	create(layer, path, partition)
	return nil
}

func mExists(layer *mnode, path []string) bool {
	n, depth, found := walk(layer, path)
	if found && n.partition && depth < len(path) {
		return mExists(n, path[depth:])
	}
	return found
}

func mList(layer *mnode, path []string) ([]string, error) {
	n, depth, found := walk(layer, path)
	if !found {
		return nil, directory.ErrDirNotExists
	}
	if n.partition && len(path) > 0 {
		return mList(n, path[depth:])
	}
	var names []string
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func mRemove(layer *mnode, path []string, mustExist bool) (bool, error) {
	if len(path) == 0 {
		return false, directory.ErrCannotRemoveRoot
	}
	n, depth, found := walk(layer, path)
	if !found {
		if mustExist {
			return false, directory.ErrDirNotExists
		}
		return false, nil
	}
	if n.partition && depth < len(path) {
		return mRemove(n, path[depth:], mustExist)
	}
	parent, _, _ := walk(layer, path[:len(path)-1])
	delete(parent.children, path[len(path)-1])
	return true, nil
}

func mMove(layer *mnode, oldPath, newPath []string) error {
	if pathHasPrefix(newPath, oldPath) {
		return directory.ErrMoveToSubdirectory
	}
	on, odepth, ofound := walk(layer, oldPath)
	nn, ndepth, nfound := walk(layer, newPath)
	if !ofound {
		return directory.ErrDirNotExists
	}
	oin := on.partition && odepth < len(oldPath)
	nin := nfound && nn.partition && ndepth < len(newPath)
	if oin || nin {
		if !oin || !nin || !equalStrings(oldPath[:odepth], newPath[:ndepth]) {
			return directory.ErrCannotMoveBetweenPartitions
		}
		return mMove(on, oldPath[odepth:], newPath[ndepth:])
	}
	if nfound {
		return directory.ErrDirAlreadyExists
	}
	parent, _, pfound := walk(layer, newPath[:len(newPath)-1])
	if !pfound {
		return directory.ErrParentDirDoesNotExist
	}
	parent.children[newPath[len(newPath)-1]] = on
	oldParent, _, _ := walk(layer, oldPath[:len(oldPath)-1])
	delete(oldParent.children, oldPath[len(oldPath)-1])
	return nil
}

// sentinelOf reduces an error to the sentinel it wraps, for comparison with the model.
func sentinelOf(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.err
		}
	}
	return err
}

// TestModel applies random operations to the directory layer (with injected faults) and to
// the model tree, and compares every result; the whole tree is compared every 25 operations,
// and directory.Check runs at the end. Set LAYERKIT_SEED to replay a seed.
func TestModel(t *testing.T) {
	seeds := []uint64{uint64(time.Now().UnixNano()), 1, 2}
	if s := os.Getenv("LAYERKIT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seeds = []uint64{n}
	}
	ops := 300
	if os.Getenv("LAYERKIT_SOAK") != "" {
		ops = 5000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runModel(t, seed, ops) })
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	ctx := context.Background()
	db := openDB(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	model := newMnode(false)
	names := []string{"a", "b", "p"}
	randPath := func(min int) []string {
		n := min + rng.IntN(4-min)
		p := make([]string, n)
		for i := range p {
			p[i] = names[rng.IntN(len(names))]
		}
		return p
	}
	root := directory.Root()
	for i := 0; i < ops; i++ {
		var desc string
		var got, want error
		switch op := rng.IntN(9); op {
		case 0, 1:
			p := randPath(1)
			partition := rng.IntN(6) == 0
			var layer []byte
			if partition {
				layer = []byte("partition")
			}
			desc = fmt.Sprintf("create_or_open %v partition=%v", p, partition)
			_, got = root.CreateOrOpen(ctx, db, p, layer)
			want = mOpen(model, p, true, true, partition)
		case 2:
			p := randPath(1)
			desc = fmt.Sprintf("create %v", p)
			_, got = root.Create(ctx, db, p, nil)
			want = mOpen(model, p, true, false, false)
		case 3:
			p := randPath(0)
			desc = fmt.Sprintf("open %v", p)
			_, got = root.Open(ctx, db, p, nil)
			want = mOpen(model, p, false, true, false)
		case 4:
			p := randPath(0)
			desc = fmt.Sprintf("exists %v", p)
			ok, err := root.Exists(ctx, db, p)
			require.NoError(t, err, desc)
			require.Equal(t, mExists(model, p), ok, "seed %d op %d: %s", seed, i, desc)
		case 5:
			p := randPath(0)
			desc = fmt.Sprintf("list %v", p)
			l, err := root.List(ctx, db, p)
			ml, merr := mList(model, p)
			got, want = err, merr
			if err == nil && merr == nil {
				require.Equal(t, fmt.Sprint(ml), fmt.Sprint(l), "seed %d op %d: %s", seed, i, desc)
			}
		case 6:
			p := randPath(0)
			if rng.IntN(2) == 0 {
				desc = fmt.Sprintf("remove %v", p)
				got = root.Remove(ctx, db, p)
				_, want = mRemove(model, p, true)
			} else {
				desc = fmt.Sprintf("remove_if_exists %v", p)
				ok, err := root.RemoveIfExists(ctx, db, p)
				mok, merr := mRemove(model, p, false)
				got, want = err, merr
				if err == nil && merr == nil {
					require.Equal(t, mok, ok, "seed %d op %d: %s", seed, i, desc)
				}
			}
		default:
			o, n := randPath(0), randPath(0)
			desc = fmt.Sprintf("move %v %v", o, n)
			_, got = root.Move(ctx, db, o, n)
			want = mMove(model, o, n)
		}
		require.Equal(t, want, sentinelOf(got), "seed %d op %d: %s (error %v)", seed, i, desc, got)
		if i%25 == 24 {
			require.Equal(t, modelTree(model, ""), dbTree(t, ctx, db, nil, ""), "seed %d after op %d", seed, i)
		}
	}
	require.Equal(t, modelTree(model, ""), dbTree(t, ctx, db, nil, ""), "seed %d at the end", seed)
	require.NoError(t, directory.Check(ctx, db))
}

func modelTree(n *mnode, indent string) string {
	var b strings.Builder
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		fmt.Fprintf(&b, "%s%s partition=%v\n", indent, name, c.partition)
		b.WriteString(modelTree(c, indent+"  "))
	}
	return b.String()
}

func dbTree(t *testing.T, ctx context.Context, db kv.Database, path []string, indent string) string {
	names, err := directory.List(ctx, db, path)
	require.NoError(t, err)
	var b strings.Builder
	for _, name := range names {
		p := append(append([]string{}, path...), name)
		d, err := directory.Open(ctx, db, p, nil)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s%s partition=%v\n", indent, name, d.IsPartition())
		b.WriteString(dbTree(t, ctx, db, p, indent+"  "))
	}
	return b.String()
}
