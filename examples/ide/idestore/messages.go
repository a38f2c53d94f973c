package idestore

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// Message is one message of a session's conversation.
type Message struct {
	// ID is the message's UUIDv7. AppendMessage draws one when it is empty; give one when
	// appending in a transaction of your own, so that a retry appends the same message.
	ID      string
	Role    string // "user", "assistant", "tool", …
	Text    string
	ModelID string
	Tokens  int64
	// Window is the editor window that sent the message.
	Window string

	// Entry is the message's place in the conversation stream (a resume cursor) and Time the
	// appender's clock; both are set on messages read back.
	Entry queue.EntryID
	Time  time.Time
}

// maxInlineText is the largest payload kept in the stream entry itself: a stream entry is one
// value (100,000 bytes with its header). Larger texts go to the MessageInfo record, which the
// record store splits.
const maxInlineText = kv.MaxValueSize - 64

// streamPrefix is where a session's conversation stream lives: ide/messages + (session id, 1).
func (s *Store) streamPrefix(sessionID string) subspace.Subspace {
	return s.messagesDir.Sub(sessionID, 1)
}

// sessionKey is the key that says a session exists, ide/messages + (session id), outside its
// stream: CreateSession sets it and DeleteSession clears it, and nothing else writes it.
// Appends, saves and tab changes read it, so they conflict with the session's deletion and with
// nothing else (a switch or rename of the session rewrites the session record, not this key).
func (s *Store) sessionKey(sessionID string) []byte {
	return s.messagesDir.Pack(tuple.Tuple{sessionID})
}

func (s *Store) stream(sessionID string) (*queue.Stream, error) {
	return queue.NewStream(s.streamPrefix(sessionID), nil)
}

// Appended is the result of AppendMessage.
type Appended struct {
	// ID is the message's id.
	ID string
	// Entry resolves to the message's stream entry once the transaction has committed (at once
	// when AppendMessage ran its own transaction).
	Entry kv.Future[queue.EntryID]
	// Duplicate reports that the message was already in the conversation (a retry of an append
	// that committed): nothing was written.
	Duplicate bool
}

// AppendMessage appends a message to a session's conversation, in one transaction with its
// bookkeeping record (counts, token total, last activity). Appends never conflict, with each
// other or with anything else a window does: the stream entry's key is versionstamped, the
// record's key is new, and the aggregates are atomic additions. Run by the database it is safe
// to retry: the message id is drawn once, and an attempt that finds the message's record
// appends nothing.
func (s *Store) AppendMessage(ctx context.Context, t kv.Transactor, sessionID string, m Message) (Appended, error) {
	if sessionID == "" {
		return Appended{}, fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	if !utf8.ValidString(m.Text) {
		return Appended{}, fmt.Errorf("%w: message text is not UTF-8", ErrInvalid)
	}
	if m.ID == "" {
		m.ID = NewID()
	}
	stream, err := s.stream(sessionID)
	if err != nil {
		return Appended{}, err
	}
	now := s.nowMS()
	return kv.Transact(ctx, t, func(tr kv.Transaction) (Appended, error) {
		out := Appended{ID: m.ID}
		if err := s.requireSession(tr, sessionID); err != nil {
			return out, err
		}
		st, err := s.sessionStore(ctx, tr)
		if err != nil {
			return out, err
		}
		pk, err := s.messageType.PrimaryKeyOf(sessionID, m.ID)
		if err != nil {
			return out, err
		}
		done, err := st.Exists(pk)
		if err != nil {
			return out, err
		}
		if done {
			out.Duplicate = true
			id, err := findEntry(ctx, tr, stream, m.ID)
			out.Entry = kv.Ready(id, err)
			return out, nil
		}
		info := &idepb.MessageInfo{SessionId: sessionID, Id: m.ID, Role: m.Role, Tokens: m.Tokens, CreatedMs: now, Size: int64(len(m.Text))}
		entry := &idepb.ChatMessage{Id: m.ID, Role: m.Role, Text: m.Text, ModelId: m.ModelID, Tokens: m.Tokens, Window: m.Window}
		if len(m.Text) > maxInlineText {
			info.Body = []byte(m.Text)
			entry.Text, entry.Overflow = "", true
		}
		payload, err := proto.Marshal(entry)
		if err != nil {
			return out, err
		}
		if _, err := st.Save(info, record.InsertOnly); err != nil {
			return out, err
		}
		out.Entry, err = stream.Append(ctx, tr, payload, nil)
		return out, err
	})
}

// MessagePage is one page of a conversation.
type MessagePage struct {
	// Messages are in stream order, or newest first for a reverse read.
	Messages []Message
	// Cursor resumes the read in the same direction.
	Cursor queue.EntryID
	// More reports that the read stopped at its limit with messages left beyond it.
	More bool
}

// Messages reads a page of a session's conversation after cursor, or before it, newest first,
// with opts.Reverse: queue.StreamEnd and Reverse give the newest messages, and the page's Cursor
// the next page back; a window that kept the Entry of the last message it showed reads forward
// from it to catch up. Reading never conflicts with appenders.
func (s *Store) Messages(ctx context.Context, t kv.ReadTransactor, sessionID string, cursor queue.EntryID, opts queue.ReadOptions) (MessagePage, error) {
	if opts.Limit == 0 {
		opts.Limit = DefaultMessagePage
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (MessagePage, error) {
		st, err := s.readSessions(ctx, tr)
		if err != nil {
			return MessagePage{}, err
		}
		return s.readMessages(ctx, tr, st, sessionID, cursor, opts)
	})
}

func (s *Store) readMessages(ctx context.Context, tr kv.ReadTransaction, sessions *record.Store, sessionID string, cursor queue.EntryID, opts queue.ReadOptions) (MessagePage, error) {
	stream, err := s.stream(sessionID)
	if err != nil {
		return MessagePage{}, err
	}
	page, err := stream.Read(ctx, tr, cursor, opts)
	if err != nil {
		return MessagePage{}, err
	}
	out := MessagePage{Cursor: page.Cursor, More: page.More, Messages: make([]Message, 0, len(page.Entries))}
	for _, e := range page.Entries {
		var cm idepb.ChatMessage
		if err := proto.Unmarshal(e.Value, &cm); err != nil {
			return MessagePage{}, fmt.Errorf("idestore: session %s: message entry %s: %w", sessionID, e.ID, err)
		}
		m := Message{ID: cm.Id, Role: cm.Role, Text: cm.Text, ModelID: cm.ModelId, Tokens: cm.Tokens, Window: cm.Window, Entry: e.ID, Time: e.Time}
		if cm.Overflow {
			pk, err := s.messageType.PrimaryKeyOf(sessionID, cm.Id)
			if err != nil {
				return MessagePage{}, err
			}
			info, err := record.LoadAs[*idepb.MessageInfo](sessions, pk)
			if err != nil {
				return MessagePage{}, err
			}
			if info == nil {
				return MessagePage{}, fmt.Errorf("idestore: session %s: message %s: body record missing: %w", sessionID, cm.Id, ErrNotFound)
			}
			m.Text = string(info.Body)
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}

// findEntry looks for the stream entry of message id, newest first: the entry of an append that
// an earlier attempt committed. It reads at most findEntryLimit entries.
func findEntry(ctx context.Context, tr kv.ReadTransaction, stream *queue.Stream, id string) (queue.EntryID, error) {
	cursor := queue.StreamEnd
	for read := 0; read < findEntryLimit; {
		page, err := stream.Read(ctx, tr, cursor, queue.ReadOptions{Limit: 100, Reverse: true})
		if err != nil {
			return queue.EntryID{}, err
		}
		for _, e := range page.Entries {
			var cm idepb.ChatMessage
			if err := proto.Unmarshal(e.Value, &cm); err == nil && cm.Id == id {
				return e.ID, nil
			}
		}
		read += len(page.Entries)
		if !page.More {
			break
		}
		cursor = page.Cursor
	}
	return queue.EntryID{}, fmt.Errorf("idestore: message %s: no stream entry among the newest %d: %w", id, findEntryLimit, ErrNotFound)
}

// findEntryLimit bounds the search of findEntry.
const findEntryLimit = 10_000
