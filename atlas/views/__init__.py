"""What the commands show, assembled from the stored graph: token look-ups, neighbour lists, prompt
and atlas subgraphs, named views, an expression's nearest tokens, hubs, the whole-vocabulary map.
"""
