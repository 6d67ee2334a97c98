/* Cell formatting of the report grid (layouts/grid.py): thousands separators, money with two
   decimals rounded half away from zero (as the CSV / Excel files), "—" for no value. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

(function () {
    "use strict";

    var COUNT = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
    var MONEY = new Intl.NumberFormat("en-US", {
        minimumFractionDigits: 2,
        maximumFractionDigits: 2
    });
    var EMPTY = "\u2014";

    function missing(value) {
        return value === null || value === undefined || value === "" ||
            (typeof value === "number" && !isFinite(value));
    }

    /* Cents, half away from zero; float noise far below a cent (1.005 stored as
       1.00499999…) is settled first, as exports/cells.py does. */
    function cents(value) {
        var scaled = Number((Math.abs(Number(value)) * 100).toFixed(6));
        var rounded = Math.round(scaled);
        return value < 0 ? -rounded : rounded;
    }

    dagfuncs.dynamicsCount = function (value) {
        return missing(value) ? EMPTY : COUNT.format(value);
    };

    dagfuncs.dynamicsMoney = function (value) {
        if (missing(value)) {
            return EMPTY;
        }
        var c = cents(value);
        return MONEY.format(c === 0 ? 0 : c / 100);
    };

    dagfuncs.dynamicsIsNegative = function (value) {
        return !missing(value) && cents(value) < 0;
    };
}());

dagfuncs.dynamicsRowId = function (params) {
    var data = params.data || {};
    var pkg = data.Package === undefined || data.Package === null ? "" : data.Package;
    return String(data.Period) + "|" + String(pkg);
};
