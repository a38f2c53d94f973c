package idestore

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// SaveModel stores a model configuration (replacing the one with the same id).
func (s *Store) SaveModel(ctx context.Context, t kv.Transactor, m *idepb.ModelConfig) error {
	if m.GetId() == "" {
		return fmt.Errorf("%w: a model configuration needs an id", ErrInvalid)
	}
	_, err := kv.Transact(ctx, t, func(tr kv.Transaction) (struct{}, error) {
		st, err := record.Open(ctx, tr, s.modelsMD, s.modelsDir)
		if err != nil {
			return struct{}{}, err
		}
		_, err = st.SaveRecord(m)
		return struct{}{}, err
	})
	return err
}

// Model returns the model configuration with the given id, or an error wrapping ErrNotFound.
func (s *Store) Model(ctx context.Context, t kv.ReadTransactor, id string) (*idepb.ModelConfig, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (*idepb.ModelConfig, error) {
		st, err := record.OpenReadOnly(ctx, tr, s.modelsMD, s.modelsDir)
		if err != nil {
			return nil, err
		}
		m, err := record.LoadAs[*idepb.ModelConfig](st, tuple.Tuple{id})
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, fmt.Errorf("model %s: %w", id, ErrNotFound)
		}
		return m, nil
	})
}

// Models returns the model configurations of one provider ("": all of them), by id.
func (s *Store) Models(ctx context.Context, t kv.ReadTransactor, provider string) ([]*idepb.ModelConfig, error) {
	q := record.Query{RecordTypes: []string{"ModelConfig"}}
	if provider != "" {
		q.Filter = record.Where("provider").Equals(provider)
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]*idepb.ModelConfig, error) {
		st, err := record.OpenReadOnly(ctx, tr, s.modelsMD, s.modelsDir)
		if err != nil {
			return nil, err
		}
		cur, err := st.ExecuteQuery(q, record.ExecuteOptions{})
		if err != nil {
			return nil, err
		}
		var out []*idepb.ModelConfig
		for cur.Next() {
			out = append(out, cur.Record().Message.(*idepb.ModelConfig))
		}
		return out, cur.Err()
	})
}
