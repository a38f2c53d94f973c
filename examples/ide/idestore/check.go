package idestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// checkStreams checks every session's conversation, one session per transaction: the stream's
// layout (queue's checker), and that its entries and the session's message records match one
// for one, which the messages_per_session COUNT index then counts exactly.
func (s *Store) checkStreams(ctx context.Context) error {
	var errs []error
	var cont []byte
	for {
		var ids []string
		err := s.db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
			ids = ids[:0]
			st, err := s.readSessions(ctx, tr)
			if err != nil {
				return err
			}
			cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Session"}}, record.ExecuteOptions{Continuation: cont, ReturnLimit: 1000})
			if err != nil {
				return err
			}
			for cur.Next() {
				ids = append(ids, cur.Record().Message.(*idepb.Session).Id)
			}
			cont = cur.Continuation()
			return cur.Err()
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.checkConversation(ctx, id); err != nil {
				errs = append(errs, err)
				if len(errs) >= 20 {
					return errors.Join(errs...)
				}
			}
		}
		if cont == nil {
			return errors.Join(errs...)
		}
	}
}

// checkConversation checks one session's stream against its message records.
func (s *Store) checkConversation(ctx context.Context, id string) error {
	stream, err := s.stream(id)
	if err != nil {
		return err
	}
	return s.db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		if v, err := tr.Get(s.sessionKey(id)).Get(); err != nil || v == nil {
			if err != nil {
				return err
			}
			return fmt.Errorf("session %s: no session key in ide/messages", id)
		}
		if err := stream.Check(ctx, tr); err != nil {
			return fmt.Errorf("session %s: conversation stream: %w", id, err)
		}
		st, err := s.readSessions(ctx, tr)
		if err != nil {
			return err
		}
		entries := map[string]bool{}
		cursor := queue.StreamStart
		for {
			page, err := s.readMessages(ctx, tr, st, id, cursor, queue.ReadOptions{Limit: 1000})
			if err != nil {
				return err
			}
			for _, m := range page.Messages {
				if entries[m.ID] {
					return fmt.Errorf("session %s: message %s appears twice in the conversation", id, m.ID)
				}
				entries[m.ID] = true
			}
			if !page.More {
				break
			}
			cursor = page.Cursor
		}
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"MessageInfo"}, Filter: record.Where("session_id").Equals(id)}, record.ExecuteOptions{})
		if err != nil {
			return err
		}
		records := 0
		for cur.Next() {
			m := cur.Record().Message.(*idepb.MessageInfo)
			if !entries[m.Id] {
				return fmt.Errorf("session %s: message record %s has no conversation entry", id, m.Id)
			}
			records++
		}
		if err := cur.Err(); err != nil {
			return err
		}
		if records != len(entries) {
			return fmt.Errorf("session %s: %d conversation entries but %d message records", id, len(entries), records)
		}
		n, err := st.Count("messages_per_session", tuple.Tuple{id})
		if err != nil {
			return err
		}
		if n != int64(records) {
			return fmt.Errorf("session %s: messages_per_session counts %d, the conversation holds %d", id, n, records)
		}
		return nil
	})
}
