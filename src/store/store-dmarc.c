/*
 * store-dmarc.c - the record of DMARC evaluations (see store.h), from
 * which aggregate reports (RFC 7489 7.2) can be made.
 */
#include "store/store.h"

#include <sqlite3.h>

#include "store/store-private.h"

int
store_dmarc_record(struct store *store, const struct store_dmarc_row *row,
    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_stmt_once(store, "INSERT INTO dmarc_results (time,"
	    " source_ip, header_from, policy_domain, policy, pct, disposition,"
	    " dmarc, dkim, spf_domain, spf)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", error_r);
	if (stmt == NULL)
		return -1;
	if (sqlite3_bind_int64(stmt, 1, (int64_t)row->time) != SQLITE_OK ||
	    store_bind_text(stmt, 2, row->source_ip) != SQLITE_OK ||
	    store_bind_text(stmt, 3, row->header_from) != SQLITE_OK ||
	    store_bind_text(stmt, 4, row->policy_domain) != SQLITE_OK ||
	    store_bind_text(stmt, 5, row->policy) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 6, (int)row->pct) != SQLITE_OK ||
	    store_bind_text(stmt, 7, row->disposition) != SQLITE_OK ||
	    store_bind_text(stmt, 8, row->dmarc) != SQLITE_OK ||
	    store_bind_text(stmt, 9, row->dkim) != SQLITE_OK ||
	    store_bind_text(stmt, 10, row->spf_domain) != SQLITE_OK ||
	    store_bind_text(stmt, 11, row->spf) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_db_error(store, error_r, "record dmarc result");
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}
