package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
)

// DefaultAPIBaseURL is the WeChat platform API's root.
const DefaultAPIBaseURL = "https://api.weixin.qq.com"

// api calls the platform: the access token (GET /cgi-bin/token, cached
// until shortly before it expires) and customer-service messages
// (POST /cgi-bin/message/custom/send).
type api struct {
	base, appID, secret string
	client              *http.Client
	now                 func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// apiError is the platform's error body.
type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// tokenMargin renews a token this long before it expires.
const tokenMargin = 5 * time.Minute

// token errors: the token is invalid or expired; fetch a new one.
func tokenExpired(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

func (a *api) accessToken(ctx context.Context, renew bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !renew && a.token != "" && a.now().Before(a.expires) {
		return a.token, nil
	}
	q := url.Values{"grant_type": {"client_credential"}, "appid": {a.appID}, "secret": {a.secret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/cgi-bin/token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	var out struct {
		apiError
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := a.do(req, &out); err != nil {
		return "", fmt.Errorf("wechat: access token: %w", err)
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", quarry.Errorf(quarry.CodeUnavailable, "wechat: access token: errcode %d: %s", out.ErrCode, out.ErrMsg)
	}
	ttl := time.Duration(out.ExpiresIn) * time.Second
	if ttl > 2*tokenMargin {
		ttl -= tokenMargin
	} else {
		ttl /= 2
	}
	a.token, a.expires = out.AccessToken, a.now().Add(ttl)
	return a.token, nil
}

// sendText sends text to a follower through the customer-service API,
// renewing the token once if the platform says it expired.
func (a *api) sendText(ctx context.Context, openID, text string) error {
	body, _ := json.Marshal(map[string]any{"touser": openID, "msgtype": "text", "text": map[string]string{"content": text}})
	for attempt := 0; ; attempt++ {
		tok, err := a.accessToken(ctx, attempt > 0)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			a.base+"/cgi-bin/message/custom/send?access_token="+url.QueryEscape(tok), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		var out apiError
		if err := a.do(req, &out); err != nil {
			return fmt.Errorf("wechat: customer-service message: %w", err)
		}
		switch {
		case out.ErrCode == 0:
			return nil
		case tokenExpired(out.ErrCode) && attempt == 0:
			continue
		}
		return quarry.Errorf(quarry.CodeUnavailable, "wechat: customer-service message: errcode %d: %s", out.ErrCode, out.ErrMsg)
	}
}

func (a *api) do(req *http.Request, out any) error {
	resp, err := a.client.Do(req)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "%s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return quarry.Errorf(quarry.CodeUnavailable, "%s answered %s", req.URL.Path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "%s: unreadable answer: %w", req.URL.Path, err)
	}
	return nil
}
