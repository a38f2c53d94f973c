package idestore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// NewID returns a new UUIDv7 in text form: ids made later sort after earlier ones.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NewSession describes a session to create.
type NewSession struct {
	// ID is the session's id; CreateSession draws a UUIDv7 when it is empty. Give one when
	// calling CreateSession in a transaction of your own, so that a retry creates the same
	// session.
	ID        string
	Workspace string
	Title     string
	ModelID   string
}

// CreateSession creates a session and returns it. Run by the database, it is safe to retry: the
// id is drawn once, and a retry that finds the session created returns it.
func (s *Store) CreateSession(ctx context.Context, t kv.Transactor, ns NewSession) (*idepb.Session, error) {
	if ns.Workspace == "" {
		return nil, fmt.Errorf("%w: a session needs a workspace", ErrInvalid)
	}
	if ns.ID == "" {
		ns.ID = NewID()
	}
	now := s.nowMS()
	sess := &idepb.Session{Id: ns.ID, Workspace: ns.Workspace, Title: ns.Title, ModelId: ns.ModelID, CreatedMs: now, ActiveMs: now}
	return kv.Transact(ctx, t, func(tr kv.Transaction) (*idepb.Session, error) {
		st, err := s.sessionStore(ctx, tr)
		if err != nil {
			return nil, err
		}
		pk, err := s.sessionType.PrimaryKeyOf(ns.ID)
		if err != nil {
			return nil, err
		}
		old, err := record.LoadAs[*idepb.Session](st, pk)
		if err != nil {
			return nil, err
		}
		if old != nil {
			return old, nil // created by an earlier attempt of this call
		}
		if _, err := st.Save(sess, record.InsertOnly); err != nil {
			return nil, err
		}
		tr.Set(s.sessionKey(ns.ID), []byte{})
		// The tabs document exists from the start, so that the first tabs two windows open do
		// not both create it (and conflict).
		_, err = s.tabs.Insert(ctx, tr, docstore.M{"_id": ns.ID, "windows": docstore.M{}, "pinned": docstore.A{}})
		return sess, err
	})
}

// Session returns the session with the given id, or an error wrapping ErrNotFound.
func (s *Store) Session(ctx context.Context, t kv.ReadTransactor, id string) (*idepb.Session, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (*idepb.Session, error) {
		st, err := s.readSessions(ctx, tr)
		if err != nil {
			return nil, err
		}
		return s.loadSession(st, id)
	})
}

func (s *Store) loadSession(st *record.Store, id string) (*idepb.Session, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	pk, err := s.sessionType.PrimaryKeyOf(id)
	if err != nil {
		return nil, err
	}
	sess, err := record.LoadAs[*idepb.Session](st, pk)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return nil, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	return sess, nil
}

// SwitchTo marks the session as the one a window just opened: it moves to the top of its
// workspace's newest-first listing. Two windows switching at once conflict on the session
// record and one is retried; the later time wins.
func (s *Store) SwitchTo(ctx context.Context, t kv.Transactor, id string) (*idepb.Session, error) {
	now := s.nowMS()
	return kv.Transact(ctx, t, func(tr kv.Transaction) (*idepb.Session, error) {
		st, err := s.sessionStore(ctx, tr)
		if err != nil {
			return nil, err
		}
		sess, err := s.loadSession(st, id)
		if err != nil {
			return nil, err
		}
		if sess.ActiveMs >= now {
			return sess, nil
		}
		sess.ActiveMs = now
		_, err = st.Save(sess, record.UpdateOnly)
		return sess, err
	})
}

// Rename changes a session's title.
func (s *Store) Rename(ctx context.Context, t kv.Transactor, id, title string) error {
	_, err := kv.Transact(ctx, t, func(tr kv.Transaction) (struct{}, error) {
		st, err := s.sessionStore(ctx, tr)
		if err != nil {
			return struct{}{}, err
		}
		sess, err := s.loadSession(st, id)
		if err != nil {
			return struct{}{}, err
		}
		sess.Title = title
		_, err = st.Save(sess, record.UpdateOnly)
		return struct{}{}, err
	})
	return err
}

// SessionPage is one page of a workspace's sessions, newest first.
type SessionPage struct {
	Sessions []*idepb.Session
	// Continuation resumes the listing after the last session of this page; nil at the end.
	Continuation []byte
	// Total is the number of sessions of the workspace, from a COUNT index (one read).
	Total int64
	// Plan is how the listing was read.
	Plan string
}

// ListSessions returns up to limit sessions of a workspace (0: all), the most recently active
// first, read from the sessions_by_activity index; pass the page's Continuation back to go on.
func (s *Store) ListSessions(ctx context.Context, t kv.ReadTransactor, workspace string, limit int, cont []byte) (SessionPage, error) {
	if limit < 0 {
		return SessionPage{}, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	q := record.Query{RecordTypes: []string{"Session"}, Filter: record.Where("workspace").Equals(workspace),
		Sort: record.Field("active_ms"), Reverse: true}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (SessionPage, error) {
		var page SessionPage
		st, err := s.readSessions(ctx, tr)
		if err != nil {
			return page, err
		}
		plan, err := st.Plan(q)
		if err != nil {
			return page, err
		}
		page.Plan = plan.Explain()
		cur := st.Execute(plan, record.ExecuteOptions{ReturnLimit: limit, Continuation: cont})
		for cur.Next() {
			page.Sessions = append(page.Sessions, cur.Record().Message.(*idepb.Session))
		}
		if err := cur.Err(); err != nil {
			return page, err
		}
		page.Continuation = cur.Continuation()
		page.Total, err = st.Count("sessions_per_workspace", tuple.Tuple{workspace})
		return page, err
	})
}

// SessionStats are a session's counts, each read from an aggregate index in one read.
type SessionStats struct {
	Files    int64 // files_per_session (COUNT)
	Bytes    int64 // bytes_per_session (SUM of the newest versions' sizes)
	Messages int64 // messages_per_session (COUNT)
	Tokens   int64 // tokens_per_session (SUM)
	// LastMessageMS is the time of the newest message (MAX_EVER), 0 without messages.
	LastMessageMS int64
}

func (s *Store) stats(sessions, files *record.Store, id string) (SessionStats, error) {
	var out SessionStats
	g := tuple.Tuple{id}
	var err error
	if out.Files, err = files.Count("files_per_session", g); err != nil {
		return out, err
	}
	if out.Bytes, err = files.Sum("bytes_per_session", g); err != nil {
		return out, err
	}
	if out.Messages, err = sessions.Count("messages_per_session", g); err != nil {
		return out, err
	}
	if out.Tokens, err = sessions.Sum("tokens_per_session", g); err != nil {
		return out, err
	}
	last, ok, err := sessions.MaxEver("last_message", g)
	if err != nil {
		return out, err
	}
	if ok && len(last) == 1 {
		if v, isInt := last[0].(int64); isInt {
			out.LastMessageMS = v
		}
	}
	return out, nil
}

// SessionView is everything a window shows when it opens a session.
type SessionView struct {
	Session *idepb.Session
	Stats   SessionStats
	// Files are the heads of the session's files (no contents), by path.
	Files []*idepb.File
	// Tabs are the session's editor tabs.
	Tabs Tabs
	// Messages are the newest messages, newest first; MessagesCursor pages further back.
	Messages       []Message
	MessagesCursor queue.EntryID
	MoreMessages   bool
}

// LoadOptions shape LoadSession.
type LoadOptions struct {
	// Messages is how many of the newest messages to read (0: DefaultMessagePage).
	Messages int
}

// DefaultMessagePage is how many messages LoadSession and Messages read when not told.
const DefaultMessagePage = 50

// LoadSession reads, in one read transaction, everything a window shows when it opens a
// session: the session, its counts, its files (heads only), its tabs and its newest messages.
func (s *Store) LoadSession(ctx context.Context, t kv.ReadTransactor, id string, opts LoadOptions) (*SessionView, error) {
	n := opts.Messages
	if n < 0 {
		return nil, fmt.Errorf("%w: message count %d", ErrInvalid, n)
	}
	if n == 0 {
		n = DefaultMessagePage
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (*SessionView, error) {
		sessions, err := s.readSessions(ctx, tr)
		if err != nil {
			return nil, err
		}
		files, err := s.readFiles(ctx, tr)
		if err != nil {
			return nil, err
		}
		v := &SessionView{}
		if v.Session, err = s.loadSession(sessions, id); err != nil {
			return nil, err
		}
		if v.Stats, err = s.stats(sessions, files, id); err != nil {
			return nil, err
		}
		if v.Files, err = s.fileHeads(files, id); err != nil {
			return nil, err
		}
		if v.Tabs, err = s.readTabs(ctx, tr, id); err != nil {
			return nil, err
		}
		page, err := s.readMessages(ctx, tr, sessions, id, queue.StreamEnd, queue.ReadOptions{Limit: n, Reverse: true})
		if err != nil {
			return nil, err
		}
		v.Messages, v.MessagesCursor, v.MoreMessages = page.Messages, page.Cursor, page.More
		return v, nil
	})
}

// Stats returns a session's counts.
func (s *Store) Stats(ctx context.Context, t kv.ReadTransactor, id string) (SessionStats, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (SessionStats, error) {
		sessions, err := s.readSessions(ctx, tr)
		if err != nil {
			return SessionStats{}, err
		}
		files, err := s.readFiles(ctx, tr)
		if err != nil {
			return SessionStats{}, err
		}
		return s.stats(sessions, files, id)
	})
}

// DeleteSession removes a session and everything it owns — its messages (records and stream),
// files and versions, and tabs — with range clears only: it costs the same for ten files or ten
// thousand. It reports false when there was no such session. An attempt that finds the session
// gone right after an attempt of the same call whose commit may have been applied (1021)
// reports true: the deletion is that attempt's.
func (s *Store) DeleteSession(ctx context.Context, t kv.Transactor, id string) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	return kv.TransactAttempts(ctx, t, func(tr kv.Transaction, a kv.Attempt) (bool, error) {
		sessions, err := s.sessionStore(ctx, tr)
		if err != nil {
			return false, err
		}
		pk, err := s.sessionType.PrimaryKeyOf(id)
		if err != nil {
			return false, err
		}
		found, err := sessions.Delete(pk)
		if err != nil || !found {
			return a.MaybeCommitted && err == nil, err
		}
		if err := sessions.DeleteRecordsWhere(tuple.Tuple{s.messageType.TypeKey(), id}); err != nil {
			return false, err
		}
		files, err := s.fileStore(ctx, tr)
		if err != nil {
			return false, err
		}
		for _, rt := range []*record.RecordType{s.fileType, s.versionType} {
			if err := files.DeleteRecordsWhere(tuple.Tuple{rt.TypeKey(), id}); err != nil {
				return false, err
			}
		}
		tr.ClearRange(s.messagesDir.Sub(id).Range()) // the stream, and anything else kept per session there
		tr.Clear(s.sessionKey(id))
		if _, err := s.tabs.Delete(ctx, tr, docstore.M{"_id": id}); err != nil {
			return false, err
		}
		return true, nil
	})
}

// requireSession fails with ErrNotFound unless the session exists: one read of its session key,
// which conflicts only with the session's deletion.
func (s *Store) requireSession(tr kv.Transaction, id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	v, err := tr.Get(s.sessionKey(id)).Get()
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	return nil
}
