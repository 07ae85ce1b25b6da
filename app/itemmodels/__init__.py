"""Qt item models filled from library results (via app.library / app.index_handle records); widgets only
display them. One module per screen:

    common          item data roles (PathRole, ...), file_icon, human_date, human_size
    search_results  SearchResultsModel: the Search screen's hits
    folder_table    FolderTableModel: the Folders screen's indexed folders
    cluster_tree    ClusterTreeModel, cluster_colour: the Cluster screen's groups and files
    classification  ClassifyModel (results, correctable), LabelsModel (the label set editor)
"""
