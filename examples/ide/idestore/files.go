package idestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// MaxFileSize is the largest file content a save takes: one transaction may write at most
// 10,000,000 bytes, and a save writes the content once (the version) with a little more.
const MaxFileSize = 8 << 20

// SaveOptions shape a file save.
type SaveOptions struct {
	// Window is the editor window saving the file, kept with the version.
	Window string
	// Language is the file's language, for the file tree's icons.
	Language string
	// IfVersion, when not zero, makes the save fail with ErrVersionChanged unless the file's
	// newest version is this one (0 saves on top of whatever is there). An editor that wants
	// to warn "the file changed since you opened it" passes the version it loaded.
	IfVersion int64
	// SaveID identifies the save; SaveFile draws a UUIDv7 when it is empty. A version records
	// the save that wrote it (unique per file), so a save retried after an unknown commit result
	// writes nothing more even when another window saved the file in between. Give one when
	// saving in a transaction of your own, before your retry loop.
	SaveID string
}

// SaveFile saves a new version of a file: the version record with the content (split by the
// record store above 100,000 bytes) and the file's head, in one transaction. Saves of different
// files never conflict. Two saves of one file at once conflict on its head: one is retried and
// lands on top of the other, so both versions are kept. A save of content the file already has
// writes nothing and returns the head as it is, which also makes a retried save harmless.
func (s *Store) SaveFile(ctx context.Context, t kv.Transactor, sessionID, path string, content []byte, opts SaveOptions) (*idepb.File, error) {
	if err := checkPath(sessionID, path); err != nil {
		return nil, err
	}
	if len(content) > MaxFileSize {
		return nil, fmt.Errorf("%w: file %s of session %s: %d bytes, at most %d", ErrInvalid, path, sessionID, len(content), MaxFileSize)
	}
	if opts.SaveID == "" {
		opts.SaveID = NewID()
	}
	sum := sha256.Sum256(content)
	sha := hex.EncodeToString(sum[:])
	now := s.nowMS()
	return kv.Transact(ctx, t, func(tr kv.Transaction) (*idepb.File, error) {
		if err := s.requireSession(tr, sessionID); err != nil {
			return nil, err
		}
		st, err := s.fileStore(ctx, tr)
		if err != nil {
			return nil, err
		}
		pk, err := s.fileType.PrimaryKeyOf(sessionID, path)
		if err != nil {
			return nil, err
		}
		head, err := record.LoadAs[*idepb.File](st, pk)
		if err != nil {
			return nil, err
		}
		if head != nil && head.Sha256 == sha {
			return head, nil
		}
		var n int64 = 1
		if head != nil {
			n = head.Version + 1
		}
		if opts.IfVersion != 0 && n-1 != opts.IfVersion {
			if done, err := s.savedBefore(st, sessionID, path, opts.SaveID); err != nil || done {
				return head, err // this save committed in an earlier attempt; others saved since
			}
			return nil, fmt.Errorf("file %s of session %s is at version %d, the editor has %d: %w", path, sessionID, n-1, opts.IfVersion, ErrVersionChanged)
		}
		version := &idepb.FileVersion{SessionId: sessionID, Path: path, Number: n, Size: int64(len(content)), Sha256: sha,
			SavedMs: now, SavedBy: opts.Window, Content: content, SaveId: opts.SaveID}
		if _, err := st.Save(version, record.InsertOnly); err != nil {
			var dup *record.UniqueViolationError
			if errors.As(err, &dup) && dup.Index == "version_by_save" {
				return head, nil // this save committed in an earlier attempt; others saved since
			}
			return nil, err
		}
		lang := opts.Language
		if lang == "" && head != nil {
			lang = head.Language
		}
		next := &idepb.File{SessionId: sessionID, Path: path, Version: n, Size: int64(len(content)), Sha256: sha, ModifiedMs: now, Language: lang, SavedBy: opts.Window}
		_, err = st.Save(next, record.Upsert)
		return next, err
	})
}

// savedBefore reports whether the save saveID wrote a version of the file, through the unique
// version_by_save index (a retry whose first attempt committed).
func (s *Store) savedBefore(st *record.Store, sessionID, path, saveID string) (bool, error) {
	cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"FileVersion"}, Filter: record.And(
		record.Where("session_id").Equals(sessionID), record.Where("path").Equals(path), record.Where("save_id").Equals(saveID))},
		record.ExecuteOptions{ReturnLimit: 1})
	if err != nil {
		return false, err
	}
	found := cur.Next()
	return found, cur.Err()
}

func checkPath(sessionID, path string) error {
	if sessionID == "" {
		return fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	if path == "" {
		return fmt.Errorf("%w: empty file path in session %s", ErrInvalid, sessionID)
	}
	return nil
}

// ReadFile returns a file's head and the content of its newest version.
func (s *Store) ReadFile(ctx context.Context, t kv.ReadTransactor, sessionID, path string) (*idepb.File, []byte, error) {
	if err := checkPath(sessionID, path); err != nil {
		return nil, nil, err
	}
	type result struct {
		head    *idepb.File
		content []byte
	}
	r, err := kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (result, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return result{}, err
		}
		pk, err := s.fileType.PrimaryKeyOf(sessionID, path)
		if err != nil {
			return result{}, err
		}
		head, err := record.LoadAs[*idepb.File](st, pk)
		if err != nil {
			return result{}, err
		}
		if head == nil {
			return result{}, fmt.Errorf("file %s of session %s: %w", path, sessionID, ErrNotFound)
		}
		v, err := s.loadVersion(st, sessionID, path, head.Version)
		if err != nil {
			return result{}, err
		}
		return result{head, v.Content}, nil
	})
	return r.head, r.content, err
}

// ReadVersion returns one version of a file, with its content.
func (s *Store) ReadVersion(ctx context.Context, t kv.ReadTransactor, sessionID, path string, number int64) (*idepb.FileVersion, error) {
	if err := checkPath(sessionID, path); err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (*idepb.FileVersion, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return nil, err
		}
		return s.loadVersion(st, sessionID, path, number)
	})
}

func (s *Store) loadVersion(st *record.Store, sessionID, path string, number int64) (*idepb.FileVersion, error) {
	pk, err := s.versionType.PrimaryKeyOf(sessionID, path, number)
	if err != nil {
		return nil, err
	}
	v, err := record.LoadAs[*idepb.FileVersion](st, pk)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("version %d of file %s of session %s: %w", number, path, sessionID, ErrNotFound)
	}
	return v, nil
}

// Files returns the heads of a session's files, by path: what the file tree shows, without
// reading any content.
func (s *Store) Files(ctx context.Context, t kv.ReadTransactor, sessionID string) ([]*idepb.File, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]*idepb.File, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return nil, err
		}
		return s.fileHeads(st, sessionID)
	})
}

func (s *Store) fileHeads(st *record.Store, sessionID string) ([]*idepb.File, error) {
	cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"File"}, Filter: record.Where("session_id").Equals(sessionID)}, record.ExecuteOptions{})
	if err != nil {
		return nil, err
	}
	var out []*idepb.File
	for cur.Next() {
		out = append(out, cur.Record().Message.(*idepb.File))
	}
	return out, cur.Err()
}

// VersionInfo is one line of a file's history.
type VersionInfo struct {
	Number  int64
	Size    int64
	SavedMS int64
	SavedBy string
}

// FileVersions lists the versions of a file, oldest first, without reading their contents: the
// file_versions index's entries hold every field a line of the history shows, so the query is
// answered by a covering scan of that index alone (versionListPlan).
func (s *Store) FileVersions(ctx context.Context, t kv.ReadTransactor, sessionID, path string) ([]VersionInfo, error) {
	if err := checkPath(sessionID, path); err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]VersionInfo, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return nil, err
		}
		cur, err := st.ExecuteQuery(versionListQuery(sessionID, path), record.ExecuteOptions{})
		if err != nil {
			return nil, err
		}
		var out []VersionInfo
		for cur.Next() {
			v := cur.Record().Message.(*idepb.FileVersion)
			out = append(out, VersionInfo{Number: v.Number, Size: v.Size, SavedMS: v.SavedMs, SavedBy: v.SavedBy})
		}
		return out, cur.Err()
	})
}

// versionListQuery asks for the history of one file: only the fields the file_versions index
// holds, so the planner answers it from the index entries (a covering plan) and no version's
// content is read.
func versionListQuery(sessionID, path string) record.Query {
	return record.Query{
		RecordTypes: []string{"FileVersion"},
		Filter:      record.And(record.Where("session_id").Equals(sessionID), record.Where("path").Equals(path)),
		Sort:        record.Field("number"),
		RequiredFields: []record.KeyExpression{record.Field("number"), record.Field("size"),
			record.Field("saved_ms"), record.Field("saved_by")},
	}
}

// VersionListPlan returns how FileVersions reads a file's history, as the record planner
// explains it.
func (s *Store) VersionListPlan(ctx context.Context, t kv.ReadTransactor) (string, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (string, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return "", err
		}
		p, err := st.Plan(versionListQuery("session", "path"))
		if err != nil {
			return "", err
		}
		return p.Explain(), nil
	})
}

// ChangedFile is a file saved after the version a client synced to.
type ChangedFile struct {
	File *idepb.File
	// Version is the record version of the save: pass the last one back to FilesChangedSince.
	Version tuple.Versionstamp
}

// FilesChangedSince returns up to limit files of a session saved after the record version
// since (nil: from the start), in save order, each once at its latest save: the "what changed
// since I last synced" query of a second window or a sync client, read from the file_changes
// VERSION index. Pass the Version of the last file returned to get the next ones.
func (s *Store) FilesChangedSince(ctx context.Context, t kv.ReadTransactor, sessionID string, since *tuple.Versionstamp, limit int) ([]ChangedFile, error) {
	if sessionID == "" {
		return nil, fmt.Errorf("%w: empty session id", ErrInvalid)
	}
	if limit < 0 {
		return nil, fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]ChangedFile, error) {
		st, err := s.readFiles(ctx, tr)
		if err != nil {
			return nil, err
		}
		cur, err := st.ChangesSince("file_changes", tuple.Tuple{sessionID}, since, record.ExecuteOptions{ReturnLimit: limit})
		if err != nil {
			return nil, err
		}
		var out []ChangedFile
		for cur.Next() {
			r := cur.Record()
			if r.Version == nil {
				return nil, fmt.Errorf("idestore: file %v has no record version", r.PrimaryKey)
			}
			out = append(out, ChangedFile{File: r.Message.(*idepb.File), Version: *r.Version})
		}
		return out, cur.Err()
	})
}

// Language guesses a file's language from its extension.
func Language(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "text"
	}
	switch path[i+1:] {
	case "go":
		return "go"
	case "md":
		return "markdown"
	case "proto":
		return "protobuf"
	case "json":
		return "json"
	case "ts", "tsx":
		return "typescript"
	case "py":
		return "python"
	}
	return "text"
}
