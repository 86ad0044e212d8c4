# Varnish 7 in front of hostd: caches what hostd marks cacheable (static mounts with maxAge, app
# responses with s-maxage / max-age), revalidates expired copies with hostd's validators (ETag,
# Last-Modified: hostd answers 304), and purges both tiers with one PURGE request (hostd's
# through its --status listener). Run hostd with --trust-proxy set to Varnish's address
# (Varnish adds X-Forwarded-For) and --status on an address Varnish reaches:
#   hostd --sites /srv/sites --listen 127.0.0.1:8080 --status 127.0.0.1:9090 --trust-proxy 127.0.0.1
# WebSocket upgrades are piped to hostd (vcl_recv, vcl_pipe). Varnish closes a pipe after
# pipe_timeout (60 s by default) with no data either way, and hostd pings a silent client only after
# half the mount's websocket.idleTimeout (2m by default: 60 s), so start varnishd with
#   varnishd ... -p pipe_timeout=90
vcl 4.1;

backend hostd {
    .host = "127.0.0.1";
    .port = "8080";
}

# hostd's --status listener: PURGE reaches hostd's response cache there (see vcl_recv).
backend hostd_status {
    .host = "127.0.0.1";
    .port = "9090";
}

# Who may PURGE. This is the only address check: hostd's status listener checks nothing but its
# bearer token (--status-token-file), so keep that listener where only Varnish and operators reach it.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.restarts == 0) {
        # Only this VCL sets these (PURGE bookkeeping); never believe a client's.
        unset req.http.X-Purge-Url;
        unset req.http.X-Hostd-Purge;
    }
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(405, "PURGE not allowed"));
        }
        if (req.restarts == 0) {
            # Tier 1, hostd's response cache (mounts with cache:), first: then no request can
            # refill Varnish from a stale hostd copy in between. hostd's HTTP parser (uWS v20.30)
            # drops connections whose method is not one of the nine standard ones, so the PURGE
            # goes to hostd's status listener as POST /cache/purge?url=<path> instead (%, & and +
            # percent-encoded). That drops the URL's entries of every vhost; to purge one vhost's
            # only, append "&host=" + the vhost's name. If the status listener requires a token,
            # add: set req.http.Authorization = "Bearer <token>";
            set req.http.X-Purge-Url = req.url;
            set req.url = "/cache/purge?url=" + regsuball(regsuball(regsuball(req.url, "%", "%25"), "&", "%26"), "[+]", "%2B");
            set req.method = "POST";
            set req.backend_hint = hostd_status;
            return (pass);
        }
        # Tier 2 (after the restart in vcl_deliver): Varnish's own copy.
        return (purge);
    }
    if (req.http.Upgrade ~ "(?i)websocket") {
        # A WebSocket: nothing to cache. Pipe it, so that after hostd's 101 Varnish copies bytes
        # both ways until either side closes (a lookup would strip the Upgrade and send hostd a
        # plain GET). Varnish's X-Forwarded-For goes along.
        return (pipe);
    }
}

sub vcl_pipe {
    # Varnish sends a piped request without the client's Upgrade header and with "Connection: close"
    # (set before vcl_pipe runs): put the client's back for an upgrade.
    if (req.http.Upgrade) {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = req.http.Connection;
    }
}

sub vcl_backend_response {
    # hostd says nothing about caching: store nothing (instead of Varnish's 120 s guess). Static
    # mounts send Cache-Control when they have maxAge; apps send their own.
    if (!beresp.http.Cache-Control && !beresp.http.Expires) {
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
    # Keep expired copies that have a validator for an hour: Varnish refreshes them with
    # If-None-Match / If-Modified-Since, and hostd's 304 renews them without a body.
    if (beresp.http.ETag || beresp.http.Last-Modified) {
        set beresp.keep = 1h;
    }
    set beresp.grace = 10s;
}

sub vcl_deliver {
    if (req.http.X-Purge-Url) {
        # hostd has answered the purge (its status in X-Hostd-Purge of the final answer); now
        # Varnish's own copy: the original PURGE again, through vcl_recv.
        set req.http.X-Hostd-Purge = resp.status;
        set req.method = "PURGE";
        set req.url = req.http.X-Purge-Url;
        unset req.http.X-Purge-Url;
        return (restart);
    }
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}

sub vcl_synth {
    if (req.method == "PURGE" && req.http.X-Hostd-Purge) {
        set resp.http.X-Hostd-Purge = req.http.X-Hostd-Purge;
    }
}
