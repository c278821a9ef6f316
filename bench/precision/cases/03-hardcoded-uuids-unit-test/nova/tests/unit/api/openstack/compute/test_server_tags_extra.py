# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from unittest import mock

from nova.api.openstack.compute import server_tags
from nova import objects
from nova import test
from nova.tests.unit.api.openstack import fakes

TAG_OWNER = 'a3c5e7f9-1b2d-4e6f-8a0b-c1d2e3f4a5b6'


class ServerTagsLimitTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.controller = server_tags.ServerTagsController()

    @mock.patch('nova.objects.TagList.get_by_resource_id')
    def test_index_returns_tags(self, mock_get):
        server_id = 'b4d6f8a0-2c3e-4f7a-9b1c-d2e3f4a5b6c7'
        mock_get.return_value = objects.TagList(
            objects=[objects.Tag(resource_id=server_id, tag='web')])
        req = fakes.HTTPRequest.blank('/v2/servers/tags', version='2.26')

        res = self.controller.index(req, server_id)

        self.assertEqual({'tags': ['web']}, res)

    @mock.patch('nova.objects.Tag.destroy')
    def test_delete_tag(self, mock_destroy):
        req = fakes.HTTPRequest.blank('/v2/servers/tags/web', version='2.26')

        self.controller.delete(
            req, 'c5e7a9b1-3d4f-4a8b-8c2d-e3f4a5b6c7d8', 'web')

        mock_destroy.assert_called_once_with(
            req.environ['nova.context'],
            'c5e7a9b1-3d4f-4a8b-8c2d-e3f4a5b6c7d8', 'web')
