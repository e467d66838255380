"""Fail unless the wheel WHEEL installs exactly one import package, atlas (besides its .dist-info)."""

import sys
import zipfile

top = {name.split("/")[0] for name in zipfile.ZipFile(sys.argv[1]).namelist()}
packages = {name for name in top if not name.endswith(".dist-info")}
if packages != {"atlas"}:
    sys.exit(f"the wheel installs {sorted(packages)}, not only atlas")
inside = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("atlas/loaders/pipeline.py", "atlas/cypher/model_list.cypher", "atlas/cypher/guide.html",
               "atlas/server/neo4j/pom.xml", "atlas/static/map.html"):
    if needed not in inside:
        sys.exit(f"the wheel lacks {needed}")
print(f"{sys.argv[1]}: one import package, atlas ({len(inside)} files)")
