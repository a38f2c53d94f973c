package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
)

// The crash step runs this program again as a child process (the environment variable
// crashChildEnv names the database directory), which opens the database and works — appending
// messages, saving a growing journal and a large build log — printing one line for every
// operation the database acknowledged. The parent kills it with SIGKILL once it has seen
// enough acknowledgements, while it is still working: no deferred Close, no clean shutdown.
// The parent then reopens the database and looks for every acknowledged operation.
const (
	crashChildEnv   = "LAYERKIT_IDE_CRASH_CHILD"
	crashSessionEnv = "LAYERKIT_IDE_CRASH_SESSION"
)

// crashChild is the child's work; it returns only with an error.
func crashChild(ctx context.Context, dir string, w io.Writer) error {
	db, err := embedded.Open(dir, nil)
	if err != nil {
		return err
	}
	ide, err := idestore.Open(ctx, db, nil)
	if err != nil {
		return err
	}
	sid := os.Getenv(crashSessionEnv)
	fmt.Fprintln(w, "ready")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var journal []byte
	for i := 1; ; i++ {
		switch i % 3 {
		case 0, 1:
			id := idestore.NewID()
			if _, err := ide.AppendMessage(ctx, db, sid, idestore.Message{ID: id, Role: "assistant", Text: fmt.Sprintf("progress note %d from the background agent", i), Tokens: 9}); err != nil {
				return err
			}
			fmt.Fprintf(w, "ack message %s\n", id)
		case 2:
			path, content := "journal.md", fmt.Appendf(journal, "- step %d done\n", i)
			if i%9 == 8 { // a large file now and then: a record split into chunks
				path, content = "build.log", make([]byte, 250_000+rng.IntN(100_000))
				for j := range content {
					content[j] = 'a' + byte(rng.IntN(26))
				}
			} else {
				journal = content
			}
			head, err := ide.SaveFile(ctx, db, sid, path, content, idestore.SaveOptions{Window: "agent"})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "ack save %s %d %s\n", path, head.Version, head.Sha256)
		}
	}
}

// reopened is the database after the crash.
type reopened struct {
	db  *embedded.DB
	ide *idestore.Store
}

type savedVersion struct {
	path    string
	version int64
	sha     string
}

// crashAndReopen runs the child, kills it with SIGKILL after acks acknowledged operations,
// reopens the database and checks that every acknowledged operation is there.
// before is the number of messages the session held before the child started.
func crashAndReopen(ctx context.Context, dir, sessionID string, before int64, acks int, t *teller) (*reopened, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashSessionEnv+"="+sessionID)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.say("Child process %d opens the database and works: messages, a growing journal.md, a large build.log now and then.", cmd.Process.Pid)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var messages []string
	var saves []savedVersion
	killed := false
	deadline := time.After(60 * time.Second)
	for line := range lines {
		switch f := strings.Fields(line); {
		case line == "ready":
		case len(f) == 3 && f[0] == "ack" && f[1] == "message":
			messages = append(messages, f[2])
		case len(f) == 5 && f[0] == "ack" && f[1] == "save":
			v, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("crash child: bad line %q", line)
			}
			saves = append(saves, savedVersion{f[2], v, f[4]})
		default:
			return nil, fmt.Errorf("crash child: unexpected line %q", line)
		}
		n := len(messages) + len(saves)
		if !killed && n >= acks {
			// Mid-work: the child is already inside its next operation.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return nil, err
			}
			killed = true
			t.say("After %d acknowledged operations: SIGKILL, while the child is busy with the next one.", n)
		}
		select {
		case <-deadline:
			if !killed {
				cmd.Process.Kill()
				return nil, fmt.Errorf("crash child: only %d operations acknowledged in 60s", n)
			}
		default:
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return nil, fmt.Errorf("crash child ended without being killed (%v): %s", err, strings.TrimSpace(stderr.String()))
	}
	t.say("The child died of SIGKILL (no Close, no flush); it acknowledged %d messages and %d saves (lines printed after the signal count too).", len(messages), len(saves))

	db, err := embedded.Open(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("reopen after the crash: %w", err)
	}
	ide, err := idestore.Open(ctx, db, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	r := &reopened{db, ide}
	if err := verifyAcked(ctx, ide, sessionID, before, messages, saves, t); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// verifyAcked looks for every acknowledged message and save after the reopen.
func verifyAcked(ctx context.Context, ide *idestore.Store, sessionID string, before int64, messages []string, saves []savedVersion, t *teller) error {
	db := ide.DB()
	stored := map[string]int{}
	cursor := queue.StreamStart
	var newest idestore.Message
	for {
		page, err := ide.Messages(ctx, db, sessionID, cursor, queue.ReadOptions{Limit: 500})
		if err != nil {
			return err
		}
		for _, m := range page.Messages {
			stored[m.ID]++
			newest = m
		}
		if !page.More {
			break
		}
		cursor = page.Cursor
	}
	for _, id := range messages {
		if stored[id] != 1 {
			return fmt.Errorf("after the crash: acknowledged message %s is stored %d times", id, stored[id])
		}
	}
	newestVersion := map[string]int64{}
	for _, s := range saves {
		v, err := ide.ReadVersion(ctx, db, sessionID, s.path, s.version)
		if err != nil {
			return fmt.Errorf("after the crash: acknowledged version %d of %s: %w", s.version, s.path, err)
		}
		if v.Sha256 != s.sha {
			return fmt.Errorf("after the crash: version %d of %s has SHA-256 %s, acknowledged %s", s.version, s.path, v.Sha256, s.sha)
		}
		newestVersion[s.path] = max(newestVersion[s.path], s.version)
	}
	var extra []string
	if n := int64(len(stored)) - before - int64(len(messages)); n > 0 {
		extra = append(extra, plural(n, "message"))
	}
	for path, acked := range newestVersion {
		head, _, err := ide.ReadFile(ctx, db, sessionID, path)
		if err != nil {
			return err
		}
		if head.Version > acked {
			extra = append(extra, fmt.Sprintf("version %d of %s", head.Version, path))
		}
	}
	stats, err := ide.Stats(ctx, db, sessionID)
	if err != nil {
		return err
	}
	t.say("Reopened: all %d acknowledged messages are there once each, and all %d acknowledged versions with their exact content.", len(messages), len(saves))
	if stats.Messages != int64(len(stored)) {
		return fmt.Errorf("after the crash: the COUNT index says %d messages, the stream holds %d", stats.Messages, len(stored))
	}
	inFlight := "the operation in flight did not commit: nothing of it is there"
	if len(extra) > 0 {
		inFlight = "the operation in flight committed whole before the kill (" + strings.Join(extra, ", ") + ")"
	}
	t.say("%s; the conversation's newest message: %q.", upperFirst(inFlight), newest.Text)
	if err := ide.Check(ctx); err != nil {
		return fmt.Errorf("after the crash: %w", err)
	}
	t.say("Nothing half-written: every record has all its chunks and index entries, every count matches (consistency check passed).")
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
