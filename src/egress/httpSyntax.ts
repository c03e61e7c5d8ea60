/**
 * The HTTP field grammar both directions of the client check against (RFC 9110 §5.6.2 tokens, §5.5 field values).
 */

/** A token: method names and field names. */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A field value: visible characters, spaces, tabs and obs-text; never CR, LF, NUL or other controls. */
export const HTTP_FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
