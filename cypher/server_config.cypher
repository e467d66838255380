// Settings of the Neo4j server: the page cache size and the data folder, to check that vectors fit.
// Parameters: $names (list of setting names, e.g. server.memory.pagecache.size, server.directories.data).
CALL dbms.listConfig() YIELD name, value
WHERE name IN $names
RETURN name, value
