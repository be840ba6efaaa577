package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

type fakeStrategies struct{}

func (fakeStrategies) ReloadStrategy(_ *http.Request, kb string) (any, error) {
	if kb == "broken" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "strategy.yaml:3: curated[0] has no answer")
	}
	return map[string]any{"kb": kb, "changed": true}, nil
}

type channelFunc func(w http.ResponseWriter, r *http.Request) error

func (f channelFunc) ServeChannel(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

func fakeChannels(_ *http.Request, channel, kb string) (Channel, error) {
	if channel != "wechat" || kb != "default" {
		return nil, quarry.Errorf(quarry.CodeNotFound, "no %s channel for %s", channel, kb)
	}
	return channelFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Get("signature") != "good" {
			return quarry.Errorf(quarry.CodeForbidden, "bad signature")
		}
		_, _ = io.WriteString(w, "success")
		return nil
	}), nil
}

func TestChannelRoutes(t *testing.T) {
	s := newServer(t, Config{Asker: streamingAsk(), Strategies: fakeStrategies{}, Channels: fakeChannels})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"POST", "/v1/channels/wechat/default?signature=good", 200, "success"},
		{"GET", "/v1/channels/wechat/default?signature=good", 200, "success"},
		{"POST", "/v1/channels/wechat/default?signature=bad", 403, `"code":"forbidden"`},
		{"POST", "/v1/channels/wechat/other?signature=good", 404, `"code":"not_found"`},
		{"POST", "/v1/kb/default/admin/reload", 200, `"changed":true`},
		{"POST", "/v1/kb/broken/admin/reload", 400, "strategy.yaml:3:"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader("<xml/>"))
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, w.Code, w.Body, tc.status, tc.body)
		}
	}
}
