/* Browser-side behaviour of the query form (registered in callbacks/query_form.py). */
window.dash_clientside = window.dash_clientside || {};

(function () {
    "use strict";

    var GRAINS = ["year", "month", "date"];
    var FILTER_ORDER = ["type", "tag", "company", "owner", "package"];
    var LOCAL_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2})?)$/;

    function noUpdate() {
        return window.dash_clientside.no_update;
    }

    function sameList(a, b) {
        if (a.length !== b.length) {
            return false;
        }
        for (var i = 0; i < a.length; i += 1) {
            if (a[i] !== b[i]) {
                return false;
            }
        }
        return true;
    }

    /* "2025-01-01 00:00" -> "2025-01-01T00:00" (the SPEC §5 spelling); others unchanged. */
    function urlTime(text) {
        var value = String(text).trim();
        var match = LOCAL_TIME.exec(value);
        return match ? match[1] + "T" + match[2] : value;
    }

    window.dash_clientside.dynamics = {
        /* The zone of the browser, when the URL did not name one (and Python knows it). */
        browserTimeZone: function (fromBrowser, options) {
            if (!fromBrowser) {
                return noUpdate();
            }
            var zone = "UTC";
            try {
                zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
            } catch (error) {
                zone = "UTC";
            }
            var known = (options || []).some(function (option) {
                return (option && option.value !== undefined ? option.value : option) === zone;
            });
            return known ? zone : "UTC";
        },

        /* At most one time grain: a newly ticked grain replaces the one ticked before. */
        oneTimeGrain: function (value, previous) {
            var current = value || [];
            var before = previous || [];
            var grains = current.filter(function (v) { return GRAINS.indexOf(v) >= 0; });
            var keep = grains.length ? grains[grains.length - 1] : null;
            if (grains.length > 1) {
                var added = grains.filter(function (v) { return before.indexOf(v) < 0; });
                if (added.length) {
                    keep = added[added.length - 1];
                }
            }
            var result = (keep ? [keep] : []).concat(
                current.filter(function (v) { return GRAINS.indexOf(v) < 0; })
            );
            return [sameList(result, current) ? noUpdate() : result, result];
        },

        /* A hand edit of the interval means it is no longer the chosen preset. */
        presetGuard: function (start, end, preset) {
            if (preset && (start !== preset.from || end !== preset.to)) {
                return null;
            }
            return noUpdate();
        },

        presetLabel: function (preset) {
            return preset && preset.label ? preset.label : "Presets";
        },

        /* The "Add filter" menu lists the filters not added yet that match the quick search. */
        narrowFilterMenu: function (search, active, labels) {
            var context = window.dash_clientside.callback_context;
            var slots = context.outputs_list[0];
            var wanted = String(search || "").trim().toLowerCase();
            var added = active || [];
            var shown = 0;
            var styles = slots.map(function (slot, index) {
                var label = String(labels[index] === undefined ? "" : labels[index]);
                var visible = added.indexOf(slot.id.kind) < 0 &&
                    (!wanted || label.toLowerCase().indexOf(wanted) >= 0);
                if (visible) {
                    shown += 1;
                }
                return visible ? {} : {display: "none"};
            });
            var message = wanted ? "No filter matches." : "Every filter is added.";
            return [styles, shown ? {display: "none"} : {}, message];
        },

        clearFilterSearch: function (isOpen) {
            return isOpen ? "" : noUpdate();
        },

        /* The form state in the address bar (SPEC §5 names), so that a query can be bookmarked. */
        syncUrl: function (start, end, tz, preset, group, currency, active, output, filters) {
            var values = {};
            for (var i = 0; i < FILTER_ORDER.length; i += 1) {
                values[FILTER_ORDER[i]] = arguments[9 + i] || [];
            }
            var params = new URLSearchParams();
            if (start && String(start).trim()) {
                params.append("from", urlTime(start));
            }
            if (end && String(end).trim()) {
                params.append("to", urlTime(end));
            }
            if (tz) {
                params.append("tz", tz);
            }
            if (preset && preset.name) {
                params.append("preset", preset.name);
            }
            (group || []).forEach(function (g) { params.append("group", g); });
            if (currency) {
                params.append("currency", currency);
            }
            if (active !== null && active !== undefined && String(active) !== "") {
                params.append("active", String(active));
            }
            (filters || []).forEach(function (kind) {
                (values[kind] || []).forEach(function (v) { params.append(kind, String(v)); });
            });
            if (output && output !== "web") {
                params.append("output", output);
            }
            var query = params.toString();
            var target = window.location.pathname + (query ? "?" + query : "") +
                window.location.hash;
            var here = window.location.pathname + window.location.search + window.location.hash;
            if (target !== here) {
                window.history.replaceState(window.history.state, "", target);
            }
            return query;
        }
    };
}());

/* A session that ended (logout elsewhere, expiry) makes Dash's requests answer 401: go to the
   login page, which brings the user back here afterwards. */
(function () {
    "use strict";
    if (!window.fetch || window.fetch.dynamicsWrapped) {
        return;
    }
    var original = window.fetch;
    var wrapped = function () {
        return original.apply(this, arguments).then(function (response) {
            if (response.status === 401 && /\/_dash-/.test(response.url || "")) {
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?next=" + encodeURIComponent(here));
                // Never hand the refused answer to Dash: the page is leaving, and Dash would
                // otherwise report a failed callback in the moment before it goes.
                return new Promise(function () {});
            }
            return response;
        });
    };
    wrapped.dynamicsWrapped = true;
    window.fetch = wrapped;
}());
