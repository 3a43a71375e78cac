/* Every record kind of the store can be imported: export covers every
 * kind, so a kind without an import handler would break the round trip. */
#include <string.h>

#include "dump.h"
#include "store.h"
#include "tap.h"

int
main(void)
{
	int i;

	for (i = 0; i < MSP_DB_COUNT; i++) {
		const struct msp_dbdef *d = msp_store_dbdef(i);
		if (d->kind == NULL)
			continue;
		ok(msp_kind_find(d->kind) != NULL,
		    "kind %s (database %s) has an import handler", d->kind,
		    d->name);
	}
	for (i = 0; msp_kinds[i].type != NULL; i++) {
		int j, found = 0;
		for (j = 0; j < MSP_DB_COUNT; j++)
			if (msp_store_dbdef(j)->kind != NULL &&
			    strcmp(msp_store_dbdef(j)->kind, msp_kinds[i].type) == 0)
				found = 1;
		ok(found, "import handler %s has a database", msp_kinds[i].type);
	}
	done_testing();
}
