package idestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
)

// Settings and editor tabs are JSON documents in the document database ide/settings: the
// collection "settings" holds one document for the global settings (_id "global") and one per
// workspace (_id "workspace:" + path); the collection "tabs" one per session (_id the session
// id). Documents are stored field by field, so writes of different fields never conflict.

// globalSettings is the _id of the global settings document.
const globalSettings = "global"

func settingsID(workspace string) string {
	if workspace == "" {
		return globalSettings
	}
	return "workspace:" + workspace
}

// checkSettingKey refuses a dotted key the document store cannot take as a path.
func checkSettingKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty setting key", ErrInvalid)
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" || strings.HasPrefix(part, "$") || part == "_id" {
			return fmt.Errorf("%w: setting key %q: each dotted part must be a non-empty name not starting with '$' (nor _id)", ErrInvalid, key)
		}
	}
	return nil
}

// SetSetting sets one setting, a dotted key such as "editor.fontSize", in the global settings
// (workspace "") or in a workspace's, which override the global ones. It writes only that
// field: two windows changing different settings at once both commit without a retry.
func (s *Store) SetSetting(ctx context.Context, t kv.Transactor, workspace, key string, value any) error {
	if err := checkSettingKey(key); err != nil {
		return err
	}
	_, err := s.settings.Upsert(ctx, t, docstore.M{"_id": settingsID(workspace)}, docstore.M{"$set": docstore.M{key: value}})
	return err
}

// UnsetSetting removes one setting from the global settings (workspace "") or a workspace's.
func (s *Store) UnsetSetting(ctx context.Context, t kv.Transactor, workspace, key string) error {
	if err := checkSettingKey(key); err != nil {
		return err
	}
	_, err := s.settings.UpdateByID(ctx, t, settingsID(workspace), docstore.M{"$unset": docstore.M{key: ""}})
	return err
}

// Settings returns the settings in effect in a workspace: the global settings with the
// workspace's laid over them, field by field (workspace "": the global settings alone). Both
// documents are read in one transaction.
func (s *Store) Settings(ctx context.Context, t kv.ReadTransactor, workspace string) (docstore.M, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (docstore.M, error) {
		out := docstore.M{}
		ids := []string{globalSettings}
		if workspace != "" {
			ids = append(ids, settingsID(workspace))
		}
		for _, id := range ids {
			d, err := s.settings.Get(ctx, tr, id)
			if errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrCollectionNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			m := d.Map()
			delete(m, "_id")
			overlay(out, m)
		}
		return out, nil
	})
}

// overlay copies src into dst, merging objects field by field.
func overlay(dst, src docstore.M) {
	for k, v := range src {
		sv, ok := v.(docstore.M)
		if !ok {
			if m, isMap := v.(map[string]any); isMap {
				sv, ok = m, true
			}
		}
		dv, dok := dst[k].(docstore.M)
		if !dok {
			if m, isMap := dst[k].(map[string]any); isMap {
				dv, dok = m, true
			}
		}
		if ok && dok {
			overlay(dv, sv)
			continue
		}
		if ok {
			cp := docstore.M{}
			overlay(cp, sv)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

// Tabs are a session's editor tabs: each window's open tabs and active tab, and the tabs pinned
// in every window.
type Tabs struct {
	Windows map[string]WindowTabs
	Pinned  []string
}

// WindowTabs are one window's tabs.
type WindowTabs struct {
	Open   []string
	Active string
}

// checkWindow refuses a window name that cannot be a document field name.
func checkWindow(w string) error {
	if w == "" || strings.ContainsRune(w, '.') || strings.HasPrefix(w, "$") {
		return fmt.Errorf("%w: window name %q: want a non-empty name without '.' that does not start with '$'", ErrInvalid, w)
	}
	return nil
}

// OpenTab opens path in a window's tab bar of a session and makes it the active tab. It writes
// only that window's fields of the session's tabs document, so windows never conflict over
// their own tabs.
func (s *Store) OpenTab(ctx context.Context, t kv.Transactor, sessionID, window, path string) error {
	if err := checkWindow(window); err != nil {
		return err
	}
	if err := checkPath(sessionID, path); err != nil {
		return err
	}
	w := "windows." + window
	return s.updateTabs(ctx, t, sessionID, docstore.M{"$addToSet": docstore.M{w + ".open": path}, "$set": docstore.M{w + ".active": path}})
}

// CloseTab closes path in a window's tab bar; the window then has no active tab if it was
// the active one.
func (s *Store) CloseTab(ctx context.Context, t kv.Transactor, sessionID, window, path string) error {
	if err := checkWindow(window); err != nil {
		return err
	}
	if err := checkPath(sessionID, path); err != nil {
		return err
	}
	w := "windows." + window
	_, err := kv.Transact(ctx, t, func(tr kv.Transaction) (struct{}, error) {
		if err := s.updateTabs(ctx, tr, sessionID, docstore.M{"$pull": docstore.M{w + ".open": path}}); err != nil {
			return struct{}{}, err
		}
		_, err := s.tabs.UpdateOne(ctx, tr, docstore.M{"_id": sessionID, w + ".active": path}, docstore.M{"$unset": docstore.M{w + ".active": ""}})
		return struct{}{}, err
	})
	return err
}

// PinTab pins path in every window of a session. The pinned list is one field that all windows
// share: two windows pinning at once conflict, and the retried one adds its tab to the list the
// other wrote, so neither pin is lost.
func (s *Store) PinTab(ctx context.Context, t kv.Transactor, sessionID, path string) error {
	if err := checkPath(sessionID, path); err != nil {
		return err
	}
	return s.updateTabs(ctx, t, sessionID, docstore.M{"$addToSet": docstore.M{"pinned": path}})
}

// updateTabs applies update to the session's tabs document, creating it if needed, once the
// session is known to exist.
func (s *Store) updateTabs(ctx context.Context, t kv.Transactor, sessionID string, update docstore.M) error {
	_, err := kv.Transact(ctx, t, func(tr kv.Transaction) (struct{}, error) {
		if err := s.requireSession(tr, sessionID); err != nil {
			return struct{}{}, err
		}
		_, err := s.tabs.Upsert(ctx, tr, docstore.M{"_id": sessionID}, update)
		return struct{}{}, err
	})
	return err
}

// SessionTabs returns a session's tabs (none when no tab was ever opened).
func (s *Store) SessionTabs(ctx context.Context, t kv.ReadTransactor, sessionID string) (Tabs, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (Tabs, error) { return s.readTabs(ctx, tr, sessionID) })
}

func (s *Store) readTabs(ctx context.Context, tr kv.ReadTransaction, sessionID string) (Tabs, error) {
	out := Tabs{Windows: map[string]WindowTabs{}}
	d, err := s.tabs.Get(ctx, tr, sessionID)
	if errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrCollectionNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	var doc struct {
		Windows map[string]struct {
			Open   []string `json:"open"`
			Active string   `json:"active"`
		} `json:"windows"`
		Pinned []string `json:"pinned"`
	}
	if err := d.Decode(&doc); err != nil {
		return out, fmt.Errorf("idestore: tabs of session %s: %w", sessionID, err)
	}
	for name, w := range doc.Windows {
		out.Windows[name] = WindowTabs{Open: w.Open, Active: w.Active}
	}
	out.Pinned = doc.Pinned
	return out, nil
}
