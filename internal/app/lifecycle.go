package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/clamd"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/malwarescan"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/notify"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/sharedstate"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/storeevents"
	"github.com/gatepost/gatepost/internal/webhook"
)

// lifecycle is what happens after an upload lands: the verifier (with the
// profiles' malware scanners), the webhook queue it feeds, and the
// endpoint for the store's own event notifications.
type lifecycle struct {
	verifier *finalize.Verifier
	queue    *notify.Queue
	// queueClient is the queue's own Redis client (nil without Redis).
	queueClient *redis.Client
	// onVerdict is called with every verdict besides the queue (the
	// service's quota correction, set once the service exists).
	onVerdict func(context.Context, *finalize.Outcome)
	// events serves POST /store-events; nil when store_events is not
	// configured.
	events http.Handler
}

// newLifecycle builds the lifecycle of cfg's profiles on store.
func newLifecycle(cfg *config.Config, store finalize.Store, shared *sharedstate.State, m *metrics.Metrics, getenv func(string) string, logger *slog.Logger) (*lifecycle, error) {
	senders := map[string]*webhook.Sender{}
	scanners := map[string]*malwarescan.Scanner{}
	for name, p := range cfg.Profiles {
		if p.Webhook != nil {
			secrets := strings.Fields(getenv(p.Webhook.SecretEnv))
			if len(secrets) == 0 {
				return nil, fmt.Errorf("profiles.%s.webhook.secret_env: $%s is empty (set it to a whsec_ secret)", name, p.Webhook.SecretEnv)
			}
			signer, err := webhook.NewSigner(secrets...)
			if err != nil {
				return nil, fmt.Errorf("profiles.%s.webhook.secret_env: $%s: %w", name, p.Webhook.SecretEnv, err)
			}
			senders[name] = &webhook.Sender{URL: p.Webhook.URL, Signer: signer, Client: &http.Client{}}
		}
		if s := p.Verify.MalwareScan; s != nil {
			maxBytes, timeout := s.Limits()
			scanners[name] = &malwarescan.Scanner{Store: store, Clamd: &clamd.Client{Addr: s.Clamd, Timeout: timeout}, MaxBytes: maxBytes}
		}
	}
	var queueOpts []notify.Option
	l := &lifecycle{}
	if len(senders) > 0 {
		if client, prefix := shared.Dedicated(notify.PoolSize(len(senders))); client != nil {
			queueOpts = append(queueOpts, notify.WithRedis(client, prefix, notify.RedisOptions{}))
			l.queueClient = client
		}
	}
	l.queue = notify.New(senders, m, logger, queueOpts...)
	l.verifier = finalize.New(store, cfg.Profiles, finalize.Options{
		Scanners: scanners, Logger: logger, Claims: shared.Claims(),
		Notify: func(ctx context.Context, out *finalize.Outcome) {
			m.Verdict(out.Profile, out.Verified, out.Reasons)
			if l.onVerdict != nil {
				l.onVerdict(ctx, out)
			}
			l.queue.Enqueue(ctx, out)
		},
	})
	if cfg.StoreEvents != nil {
		secret := getenv(cfg.StoreEvents.SecretEnv)
		if len(secret) < 16 {
			return nil, fmt.Errorf("store_events.secret_env: $%s must hold a secret of at least 16 characters", cfg.StoreEvents.SecretEnv)
		}
		l.events = &storeevents.Handler{Secret: secret, Created: l.created(cfg, logger), Confirm: confirmSubscription}
	}
	return l, nil
}

// close releases the queue's Redis client.
func (l *lifecycle) close() {
	if l.queueClient != nil {
		_ = l.queueClient.Close()
	}
}

// created verifies the uploads a store event reports: staged uploads of
// staging profiles, and objects at the keys of profiles without staging
// (reported only); anything else (a promoted copy, a quarantined one, an
// object outside every profile) is ignored. An event for an upload already
// decided, or replaced since, is nothing to do; one that cannot be
// verified now fails the request, so the store sends it again.
func (l *lifecycle) created(cfg *config.Config, logger *slog.Logger) func(context.Context, []storeevents.Object) error {
	return func(ctx context.Context, objects []storeevents.Object) error {
		for _, o := range objects {
			final, staged := staging.Final(o.Key)
			if !staged {
				final = o.Key
			}
			name, _, ok := cfg.ProfileOf(o.Bucket, final)
			if !ok || cfg.Profiles[name].Verify.Staging != staged {
				continue
			}
			_, err := l.verifier.Finalize(ctx, name, final)
			switch {
			case err == nil, errors.Is(err, finalize.ErrNoUpload), errors.Is(err, objectstore.ErrChanged):
			default:
				logger.Warn("a store event could not be verified now; the store will send it again", "bucket", o.Bucket, "key", o.Key, "error", err)
				return err
			}
		}
		return nil
	}
}

// confirmSubscription fetches an SNS SubscribeURL (already checked to be
// SNS's own) to confirm the subscription.
func confirmSubscription(ctx context.Context, subscribeURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, subscribeURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("SNS answered the subscription confirmation with %s", resp.Status)
	}
	return nil
}
