package server

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Default webhook limits per provider: a directory sync pushes bursts of
// changes, an attacker pushes forged deliveries, and each costs a plugin
// call, so both are bounded per provider.
const (
	defaultWebhookRate        = 20 // deliveries per second, sustained
	defaultWebhookBurst       = 40
	defaultWebhookConcurrency = 4
)

// webhookLimits bounds the webhook deliveries of each provider: a token
// bucket for their rate and a semaphore for those in flight. Keys are
// provider names the server serves, so the map stays small.
type webhookLimits struct {
	rate        rate.Limit
	burst       int
	concurrency int

	mu        sync.Mutex
	providers map[string]*providerLimit
}

type providerLimit struct {
	bucket   *rate.Limiter
	inFlight chan struct{}
}

func newWebhookLimits(perSecond float64, burst, concurrency int) *webhookLimits {
	return &webhookLimits{rate: rate.Limit(perSecond), burst: burst, concurrency: concurrency, providers: map[string]*providerLimit{}}
}

func (l *webhookLimits) of(provider string) *providerLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.providers[provider]
	if p == nil {
		p = &providerLimit{bucket: rate.NewLimiter(l.rate, l.burst), inFlight: make(chan struct{}, l.concurrency)}
		l.providers[provider] = p
	}
	return p
}

// acquire admits one delivery for provider. It returns the function that
// ends it, or, when the provider is over its rate or has too many
// deliveries in flight, nil and how long the sender should wait.
func (l *webhookLimits) acquire(provider string, now time.Time) (release func(), retryAfter time.Duration) {
	p := l.of(provider)
	select {
	case p.inFlight <- struct{}{}:
	default:
		return nil, time.Second
	}
	r := p.bucket.ReserveN(now, 1)
	if !r.OK() {
		<-p.inFlight
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		<-p.inFlight
		return nil, d
	}
	return func() { <-p.inFlight }, 0
}

// retryAfterSeconds is d in whole seconds, rounded up, at least one: the
// value of a Retry-After header.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
